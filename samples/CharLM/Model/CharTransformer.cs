using AttnGen;
using AttnGen.Training;

namespace CharLM.Model;

/// <summary>
/// A character-level causal language model, GPT-style with pre-norm blocks:
/// <code>
/// x0     = token_embedding[ids] + position_embedding[t]      [batch, SeqLen, ModelDim]
/// x(i+1) = block_i(x(i))                                      (see TransformerBlock)
/// logits = head(final_norm(x(blocks)))                        [batch, SeqLen, Vocabulary]
/// loss   = mean softmax cross-entropy against the next character
/// </code>
/// The embedding (<see cref="Embed"/>) and the head (<see cref="Logits"/>) are row-wise like the blocks' MLPs,
/// so a decoding step can run the whole model on one row per sequence. Buffers are sized for
/// <c>maxBatch</c> sequences once; a training step allocates nothing of its own.
/// </summary>
internal sealed class CharTransformer : ITrainableModel<TextBatch>, IDisposable
{
    private readonly Embedding _tokens, _positions;
    private readonly TransformerBlock[] _blocks;
    private readonly LayerNorm _finalNorm;
    private readonly Linear _head;
    private readonly AlignedBuffer[] _stream;
    private readonly AlignedBuffer _final, _positionRows, _logits, _dLogits, _dA, _dB;
    private readonly int[] _positionIds;

    /// <param name="createAttention">Makes one block's causal self-attention layer (SeqLen and ModelDim as given here).</param>
    /// <param name="layout">The attention layer's parameter list.</param>
    /// <param name="vocabulary">Number of character ids.</param>
    /// <param name="seqLen">Context length (the attention layer's SeqLen).</param>
    /// <param name="modelDim">Row width (the attention layer's ModelDim).</param>
    /// <param name="hidden">Width of each MLP's hidden layer.</param>
    /// <param name="blocks">Number of blocks.</param>
    /// <param name="maxBatch">Most sequences a call may pass.</param>
    public CharTransformer(Func<ICausalAttention> createAttention, IReadOnlyList<LayerParameter> layout,
        int vocabulary, int seqLen, int modelDim, int hidden, int blocks, int maxBatch)
    {
        ArgumentNullException.ThrowIfNull(createAttention);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabulary, 2);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocks);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatch);
        (Vocabulary, SeqLen, ModelDim, MaxBatch) = (vocabulary, seqLen, modelDim, maxBatch);
        int maxRows = maxBatch * seqLen;
        _tokens = new Embedding(vocabulary, modelDim);
        _positions = new Embedding(seqLen, modelDim);
        _blocks = new TransformerBlock[blocks];
        for (int b = 0; b < blocks; b++)
        {
            _blocks[b] = new TransformerBlock(createAttention(), layout, seqLen, modelDim, hidden, maxRows);
        }
        _finalNorm = new LayerNorm(modelDim);
        _head = new Linear(modelDim, vocabulary);
        _stream = new AlignedBuffer[blocks + 1];
        for (int i = 0; i < _stream.Length; i++)
        {
            _stream[i] = new AlignedBuffer(maxRows * modelDim);
        }
        (_final, _positionRows, _dA, _dB) = (new(maxRows * modelDim), new(maxRows * modelDim), new(maxRows * modelDim), new(maxRows * modelDim));
        (_logits, _dLogits) = (new(maxRows * vocabulary), new(maxRows * vocabulary));
        _positionIds = new int[maxRows];
        for (int i = 0; i < maxRows; i++)
        {
            _positionIds[i] = i % seqLen;
        }

        Parameters.Add("token_embedding.", _tokens.Parameters).Add("position_embedding.", _positions.Parameters);
        for (int b = 0; b < blocks; b++)
        {
            Parameters.Add($"blocks.{b}.", _blocks[b].Parameters);
        }
        Parameters.Add("final_norm.", _finalNorm.Parameters).Add("head.", _head.Parameters);
    }

    public int Vocabulary { get; }

    public int SeqLen { get; }

    public int ModelDim { get; }

    public int MaxBatch { get; }

    public IReadOnlyList<TransformerBlock> Blocks => _blocks;

    public ParameterSet Parameters { get; } = new();

    /// <summary>Threads each attention layer spreads a call's sequences over.</summary>
    public int AttentionThreads
    {
        set
        {
            foreach (TransformerBlock block in _blocks)
            {
                block.Attention.MaxDegreeOfParallelism = value;
            }
        }
    }

    public void ResetParameters(ulong seed)
    {
        // Small embeddings: the residual stream starts near the scale the norms bring it to anyway.
        _tokens.ResetParameters(seed, InitKind.XavierNormal);
        _positions.ResetParameters(seed + 1, InitKind.XavierNormal);
        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b].ResetParameters(seed + 10 * (ulong)(b + 1));
        }
        _finalNorm.ResetParameters();
        _head.ResetParameters(seed + 2);
    }

    /// <summary>Forward, next-character cross-entropy, backward; adds to every gradient and returns the mean loss (nats).</summary>
    public float ForwardBackward(scoped in TextBatch batch)
    {
        int rows = CheckBatch(batch.Count) * SeqLen;
        ReadOnlySpan<int> ids = batch.Ids.Span.Slice(0, rows);
        ForwardSequences(ids, batch.Count, training: true);
        Span<float> logits = _logits.Slice(0, rows * Vocabulary), dLogits = _dLogits.Slice(0, rows * Vocabulary);
        Logits(_stream[^1].Slice(0, rows * ModelDim), logits, rows);
        float loss = SoftmaxCrossEntropy.Compute(logits, batch.Targets.Span.Slice(0, rows), dLogits, rows, Vocabulary);

        Span<float> dy = _dA.Slice(0, rows * ModelDim), dx = _dB.Slice(0, rows * ModelDim);
        _head.Backward(_final.Slice(0, rows * ModelDim), dLogits, dy, rows);
        _finalNorm.Backward(_stream[^1].Slice(0, rows * ModelDim), dy, dx, rows);
        for (int b = _blocks.Length - 1; b >= 0; b--)
        {
            Span<float> swap = dy;
            dy = dx;
            dx = swap;
            _blocks[b].Backward(_stream[b].Slice(0, rows * ModelDim), dy, dx, batch.Count);
        }
        _tokens.Backward(ids, dx);
        _positions.Backward(_positionIds.AsSpan(0, rows), dx);
        return loss;
    }

    /// <summary>Mean next-character cross-entropy (nats) of <paramref name="batch"/> windows; no gradient.</summary>
    public double Loss(ReadOnlySpan<int> ids, ReadOnlySpan<int> targets, int batch)
    {
        int rows = CheckBatch(batch) * SeqLen;
        ForwardSequences(ids.Slice(0, rows), batch, training: false);
        Span<float> logits = _logits.Slice(0, rows * Vocabulary);
        Logits(_stream[^1].Slice(0, rows * ModelDim), logits, rows);
        return SoftmaxCrossEntropy.Compute(logits, targets.Slice(0, rows), default, rows, Vocabulary);
    }

    /// <summary>
    /// The logits of the character after each sequence's first <paramref name="lengths"/>[b] characters
    /// (1..SeqLen), by a full causal forward over the <c>[batch, SeqLen]</c> ids: positions past a prefix
    /// cannot change its rows, so whatever they hold does not matter. <paramref name="logits"/> is <c>[batch, Vocabulary]</c>.
    /// </summary>
    public void NextLogits(ReadOnlySpan<int> ids, ReadOnlySpan<int> lengths, int batch, Span<float> logits)
    {
        ForwardSequences(ids.Slice(0, CheckBatch(batch) * SeqLen), batch, training: false);
        for (int b = 0; b < batch; b++)
        {
            if (lengths[b] < 1 || lengths[b] > SeqLen)
            {
                throw new ArgumentOutOfRangeException(nameof(lengths), lengths[b], $"'lengths[{b}]' is {lengths[b]}; expected 1..{SeqLen}.");
            }
            int row = b * SeqLen + lengths[b] - 1;
            Logits(_stream[^1].Slice(row * ModelDim, ModelDim), logits.Slice(b * Vocabulary, Vocabulary), 1);
        }
    }

    /// <summary>Row-wise: <c>token_embedding[ids[r]] + position_embedding[positions[r]]</c> into <paramref name="x"/> <c>[rows, ModelDim]</c>.</summary>
    public void Embed(ReadOnlySpan<int> ids, ReadOnlySpan<int> positions, Span<float> x)
    {
        int n = ids.Length * ModelDim;
        _tokens.Forward(ids, x.Slice(0, n));
        Span<float> position = _positionRows.Slice(0, n);
        _positions.Forward(positions, position);
        ResidualAdd.Forward(x.Slice(0, n), position, x.Slice(0, n));
    }

    /// <summary>Row-wise: <c>head(final_norm(x))</c> for <paramref name="rows"/> rows into <paramref name="logits"/> <c>[rows, Vocabulary]</c>.</summary>
    public void Logits(ReadOnlySpan<float> x, Span<float> logits, int rows)
    {
        Span<float> normed = _final.Slice(0, rows * ModelDim);
        _finalNorm.Forward(x.Slice(0, rows * ModelDim), normed, rows);
        _head.Forward(normed, logits.Slice(0, rows * Vocabulary), rows);
    }

    // Embedding and every block over whole sequences; the last block's output lands in _stream[^1].
    private void ForwardSequences(ReadOnlySpan<int> ids, int batch, bool training)
    {
        int rows = batch * SeqLen;
        Embed(ids, _positionIds.AsSpan(0, rows), _stream[0].Slice(0, rows * ModelDim));
        for (int b = 0; b < _blocks.Length; b++)
        {
            _blocks[b].Forward(_stream[b].Slice(0, rows * ModelDim), _stream[b + 1].Slice(0, rows * ModelDim), batch, training);
        }
    }

    private int CheckBatch(int batch)
    {
        if (batch < 1 || batch > MaxBatch)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"'batch' is {batch}; the model was built for 1..{MaxBatch} sequences.");
        }
        return batch;
    }

    public void Dispose()
    {
        foreach (TransformerBlock block in _blocks)
        {
            block.Dispose();
        }
        foreach (AlignedBuffer buffer in _stream)
        {
            buffer.Dispose();
        }
        foreach (IDisposable d in (IDisposable[])[_tokens, _positions, _finalNorm, _head, _final, _positionRows, _logits, _dLogits, _dA, _dB])
        {
            d.Dispose();
        }
    }
}
