using AttnGen;
using AttnGen.Training;

namespace TextClassification.Model;

/// <summary>
/// Token ids <c>[batch, SeqLen]</c> with per-sequence valid lengths to class logits <c>[batch, Classes]</c>:
/// <code>
/// x      = token_embedding[ids] + position_embedding[t]     [batch, SeqLen, ModelDim]
/// h      = x + attention(x)          (padding keys masked)   [batch, SeqLen, ModelDim]
/// n      = layer_norm(h)                                     [batch, SeqLen, ModelDim]
/// pooled = mean of n over the valid positions                [batch, ModelDim]
/// logits = classifier(pooled)                                [batch, Classes]
/// </code>
/// Without an attention layer (<c>attention: null</c>) <c>h = x</c>: a bag-of-embeddings baseline.
/// Buffers are sized for <c>maxBatch</c> once; a training step allocates nothing of its own.
/// </summary>
internal sealed class SequenceClassifier : ITrainable, ITrainableModel<TokenBatch>, IDisposable
{
    private readonly Embedding _tokens;
    private readonly Embedding _positions;
    private readonly ITrainableAttention? _attention;
    private readonly LayerNorm _norm;
    private readonly MeanPooling _pooling;
    private readonly Linear _classifier;
    private readonly int[] _positionIds;
    private readonly AlignedBuffer _x, _attended, _h, _n, _pooled, _logits;
    private readonly AlignedBuffer _dn, _dh, _dx, _dPooled, _dLogits;

    /// <param name="attention">The attention layer (owned and disposed by the model), or null for the baseline.</param>
    /// <param name="attentionLayout">The layer's parameter list (names, shapes, offsets in its block).</param>
    /// <param name="vocabularySize">Token ids are 0 .. vocabularySize-1; id 0 is padding.</param>
    /// <param name="seqLen">Positions per sequence (the attention layer's SeqLen).</param>
    /// <param name="modelDim">Width of a position's vector (the attention layer's ModelDim).</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="maxBatch">Largest batch a call may pass.</param>
    public SequenceClassifier(ITrainableAttention? attention, IReadOnlyList<LayerParameter> attentionLayout,
        int vocabularySize, int seqLen, int modelDim, int classes, int maxBatch)
    {
        (SeqLen, ModelDim, Classes, MaxBatch) = (seqLen, modelDim, classes, maxBatch);
        _tokens = new Embedding(vocabularySize, modelDim, paddingId: 0);
        _positions = new Embedding(seqLen, modelDim);
        _attention = attention;
        _norm = new LayerNorm(modelDim);
        _pooling = new MeanPooling(seqLen, modelDim);
        _classifier = new Linear(modelDim, classes);
        _positionIds = new int[maxBatch * seqLen];
        for (int i = 0; i < _positionIds.Length; i++)
        {
            _positionIds[i] = i % seqLen;
        }

        int sequence = maxBatch * seqLen * modelDim;
        _x = new AlignedBuffer(sequence);
        _attended = new AlignedBuffer(sequence);
        _h = new AlignedBuffer(sequence);
        _n = new AlignedBuffer(sequence);
        _dn = new AlignedBuffer(sequence);
        _dh = new AlignedBuffer(sequence);
        _dx = new AlignedBuffer(sequence);
        _pooled = new AlignedBuffer(maxBatch * modelDim);
        _dPooled = new AlignedBuffer(maxBatch * modelDim);
        _logits = new AlignedBuffer(maxBatch * classes);
        _dLogits = new AlignedBuffer(maxBatch * classes);

        Parameters.Add("token_embedding.", _tokens.Parameters).Add("position_embedding.", _positions.Parameters);
        if (attention is not null)
        {
            Parameters.AddBlock("attention.", attentionLayout, () => attention.ParameterBlock, () => attention.GradientBlock);
        }
        Parameters.Add("norm.", _norm.Parameters).Add("classifier.", _classifier.Parameters);
    }

    public int SeqLen { get; }

    public int ModelDim { get; }

    public int Classes { get; }

    public int MaxBatch { get; }

    public ParameterSet Parameters { get; } = new();

    /// <summary>Initialises the layers this model owns (the attention layer is initialised by its creator).</summary>
    public void ResetParameters(ulong seed)
    {
        // Small embeddings: the residual stream starts near the scale layer norm brings it to anyway.
        _tokens.ResetParameters(seed, InitKind.XavierNormal);
        _positions.ResetParameters(seed + 1, InitKind.XavierNormal);
        _norm.ResetParameters();
        _classifier.ResetParameters(seed + 2);
    }

    /// <summary>
    /// Forward, softmax cross-entropy against <paramref name="labels"/>, backward: the gradients of every
    /// parameter are accumulated (call the optimizer's ZeroGrad before). Returns the mean loss.
    /// </summary>
    public float ForwardBackward(ReadOnlySpan<int> ids, ReadOnlySpan<int> validLengths, ReadOnlySpan<int> labels, int batch)
    {
        int n = batch * SeqLen * ModelDim;
        Forward(ids, validLengths, batch, training: true);
        Span<float> dLogits = _dLogits.Slice(0, batch * Classes);
        float loss = SoftmaxCrossEntropy.Compute(_logits.Slice(0, batch * Classes), labels, dLogits, batch, Classes);

        _classifier.Backward(_pooled.Slice(0, batch * ModelDim), dLogits, _dPooled.Slice(0, batch * ModelDim), batch);
        _pooling.Backward(_dPooled.Slice(0, batch * ModelDim), _dn.Slice(0, n), batch, validLengths);
        _norm.Backward(_h.Slice(0, n), _dn.Slice(0, n), _dh.Slice(0, n), batch * SeqLen);
        Span<float> dx = _dx.Slice(0, n);
        if (_attention is null)
        {
            _dh.Slice(0, n).CopyTo(dx);
        }
        else
        {
            _attention.Backward(_dh.Slice(0, n), dx, batch, validLengths);
            ResidualAdd.Backward(_dh.Slice(0, n), dx, default);
        }
        _tokens.Backward(ids, dx);
        _positions.Backward(_positionIds.AsSpan(0, batch * SeqLen), dx);
        return loss;
    }

    /// <inheritdoc cref="ForwardBackward(ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, int)"/>
    public float ForwardBackward(scoped in TokenBatch batch)
        => ForwardBackward(batch.Ids, batch.ValidLengths, batch.Labels, batch.Count);

    /// <summary>Inference: the predicted class of each sequence (with <paramref name="logits"/> <c>[batch, Classes]</c> if not empty).</summary>
    public void Predict(ReadOnlySpan<int> ids, ReadOnlySpan<int> validLengths, int batch, Span<int> predictions, Span<float> logits = default)
    {
        Forward(ids, validLengths, batch, training: false);
        ReadOnlySpan<float> result = _logits.Slice(0, batch * Classes);
        SoftmaxCrossEntropy.Predict(result, predictions, batch, Classes);
        if (!logits.IsEmpty)
        {
            result.CopyTo(logits);
        }
    }

    private void Forward(ReadOnlySpan<int> ids, ReadOnlySpan<int> validLengths, int batch, bool training)
    {
        if (batch > MaxBatch)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"The model was built for batches of at most {MaxBatch}.");
        }
        int n = batch * SeqLen * ModelDim;
        Span<float> x = _x.Slice(0, n);
        Span<float> h = _h.Slice(0, n);
        _tokens.Forward(ids, x);
        Span<float> position = _attended.Slice(0, n); // scratch until the attention output lands here
        _positions.Forward(_positionIds.AsSpan(0, batch * SeqLen), position);
        ResidualAdd.Forward(x, position, x);

        if (_attention is null)
        {
            x.CopyTo(h);
        }
        else
        {
            Span<float> attended = _attended.Slice(0, n);
            if (training)
            {
                _attention.ForwardTrain(x, attended, batch, validLengths);
            }
            else
            {
                _attention.Forward(x, attended, batch, validLengths);
            }
            ResidualAdd.Forward(x, attended, h);
        }
        _norm.Forward(h, _n.Slice(0, n), batch * SeqLen);
        _pooling.Forward(_n.Slice(0, n), _pooled.Slice(0, batch * ModelDim), batch, validLengths);
        _classifier.Forward(_pooled.Slice(0, batch * ModelDim), _logits.Slice(0, batch * Classes), batch);
    }

    public void Dispose()
    {
        _attention?.Dispose();
        foreach (IDisposable d in (IDisposable[])[_tokens, _positions, _norm, _classifier, _x, _attended, _h, _n, _pooled, _logits, _dn, _dh, _dx, _dPooled, _dLogits])
        {
            d.Dispose();
        }
    }
}

/// <summary>One training batch: token ids <c>[Count, SeqLen]</c>, valid lengths and labels <c>[Count]</c>.</summary>
internal readonly ref struct TokenBatch(ReadOnlySpan<int> ids, ReadOnlySpan<int> validLengths, ReadOnlySpan<int> labels, int count)
{
    public ReadOnlySpan<int> Ids { get; } = ids;

    public ReadOnlySpan<int> ValidLengths { get; } = validLengths;

    public ReadOnlySpan<int> Labels { get; } = labels;

    public int Count { get; } = count;
}
