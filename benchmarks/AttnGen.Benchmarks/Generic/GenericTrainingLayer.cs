using AttnGen.Training;

namespace AttnGen.Benchmarks.Generic;

/// <summary>
/// <see cref="GenericLayer"/> with a training face, for the training-step benchmark: its parameters in PyTorch
/// layout, registered in a <see cref="ParameterSet"/> for the runtime's optimizers (reading a value marks the
/// packed weights stale, as the generated layer's parameter block does); <see cref="ForwardTrain"/> keeps each
/// sequence's input, fused q/k/v projection, context and log-sum-exp; <see cref="Backward"/> runs the output
/// projection's backward, <see cref="GenericAttentionBackward"/>, and one backward of the fused q/k/v projection.
/// </summary>
public sealed unsafe class GenericTrainingLayer : IDisposable
{
    private readonly GenericLayer _layer;
    private readonly GenericAttentionBackward _coreBackward;
    private readonly AlignedBuffer _inWeight, _inBias, _outWeight, _outBias;
    private readonly AlignedBuffer _inWeightGrad, _inBiasGrad, _outWeightGrad, _outBiasGrad;
    private AlignedBuffer? _saved, _work;
    private bool _packed;
    private int _savedBatch;
    private float* _x, _y;

    /// <summary>Creates the layer for one shape (self-attention, not causal), given at run time.</summary>
    public GenericTrainingLayer(int heads, int seqLen, int headDim, int modelDim)
    {
        _layer = new GenericLayer(heads, seqLen, headDim, modelDim, causal: false);
        _coreBackward = new GenericAttentionBackward(_layer.Core);
        int qkv = 3 * heads * headDim;
        _inWeight = new AlignedBuffer(qkv * modelDim);
        _inBias = new AlignedBuffer(qkv);
        _outWeight = new AlignedBuffer(modelDim * QueryWidth);
        _outBias = new AlignedBuffer(modelDim);
        _inWeightGrad = new AlignedBuffer(qkv * modelDim);
        _inBiasGrad = new AlignedBuffer(qkv);
        _outWeightGrad = new AlignedBuffer(modelDim * QueryWidth);
        _outBiasGrad = new AlignedBuffer(modelDim);
        Parameters = new ParameterSet()
            .Add(new Parameter("in_proj_weight", [qkv, modelDim], () => Values(_inWeight), () => _inWeightGrad.Span))
            .Add(new Parameter("in_proj_bias", [qkv], () => Values(_inBias), () => _inBiasGrad.Span))
            .Add(new Parameter("out_proj.weight", [modelDim, QueryWidth], () => Values(_outWeight), () => _outWeightGrad.Span))
            .Add(new Parameter("out_proj.bias", [modelDim], () => Values(_outBias), () => _outBiasGrad.Span));
    }

    /// <summary>The parameters and their gradients, in PyTorch state-dict order.</summary>
    public ParameterSet Parameters { get; }

    /// <summary>Threads ForwardTrain uses over the sequences of a batch; Backward runs on the calling thread, as the generated layer's.</summary>
    public int MaxDegreeOfParallelism
    {
        get => _layer.MaxDegreeOfParallelism;
        set => _layer.MaxDegreeOfParallelism = value;
    }

    private int Heads => _layer.Core.Heads;

    private int SeqLen => _layer.Core.SeqLen;

    private int ModelDim => _layer.ModelDim;

    private int QueryWidth => _layer.QueryWidth;

    /// <summary>Floats one sequence keeps: its input, the layer's q/k/v and context, then the log-sum-exp.</summary>
    private long SavedLength => (long)SeqLen * ModelDim + _layer.SequenceStateLength + (long)Heads * SeqLen;

    /// <summary>Copies PyTorch-layout weights in.</summary>
    public void LoadWeights(ReadOnlySpan<float> inProjWeight, ReadOnlySpan<float> inProjBias, ReadOnlySpan<float> outProjWeight, ReadOnlySpan<float> outProjBias)
    {
        inProjWeight.CopyTo(Values(_inWeight));
        inProjBias.CopyTo(Values(_inBias));
        outProjWeight.CopyTo(Values(_outWeight));
        outProjBias.CopyTo(Values(_outBias));
    }

    /// <summary>Sets every parameter gradient to zero.</summary>
    public void ZeroGradients() => Parameters.ZeroGradients();

    /// <summary>Self-attention forward over [batch, SeqLen, ModelDim] that keeps what <see cref="Backward"/> needs.</summary>
    public void ForwardTrain(ReadOnlySpan<float> input, Span<float> output, int batch)
    {
        long length = (long)batch * SeqLen * ModelDim;
        if (batch < 1 || input.Length != length || output.Length != length)
        {
            throw new ArgumentException($"Expected batch >= 1 and spans of {length} floats.");
        }
        if (!_packed)
        {
            _layer.LoadWeights(_inWeight.Span, _inBias.Span, _outWeight.Span, _outBias.Span);
            _packed = true;
        }
        if (_saved is null || _saved.Length < batch * SavedLength)
        {
            _saved?.Dispose();
            _saved = new AlignedBuffer(checked((int)(batch * SavedLength)));
        }
        fixed (float* x = input, y = output)
        {
            _x = x;
            _y = y;
            if (MaxDegreeOfParallelism <= 1 || batch == 1)
            {
                for (int b = 0; b < batch; b++)
                {
                    ForwardSequence(b);
                }
            }
            else
            {
                Parallel.For(0, batch, new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism }, ForwardSequence);
            }
        }
        _savedBatch = batch;
    }

    private void ForwardSequence(int b)
    {
        long rows = (long)SeqLen * ModelDim;
        float* saved = _saved!.Pointer + b * SavedLength;
        float* x = _x + b * rows;
        new ReadOnlySpan<float>(x, (int)rows).CopyTo(new Span<float>(saved, (int)rows));
        float* qkv = saved + rows;
        float* context = qkv + (long)SeqLen * _layer.QkvStride;
        _layer.Sequence(x, _y + b * rows, qkv, context, qkv + _layer.SequenceStateLength);
    }

    /// <summary>Backward of the last ForwardTrain: writes dL/dinput, adds the parameter gradients.</summary>
    public void Backward(ReadOnlySpan<float> outputGrad, Span<float> inputGrad, int batch)
    {
        long length = (long)batch * SeqLen * ModelDim;
        if (batch != _savedBatch || outputGrad.Length != length || inputGrad.Length != length)
        {
            throw new ArgumentException($"Expected the batch of the last ForwardTrain ({_savedBatch}) and spans of {length} floats.");
        }
        int qkvWidth = 3 * QueryWidth;
        _work ??= new AlignedBuffer(SeqLen * (QueryWidth + qkvWidth));
        float* dContext = _work.Pointer, dQkv = dContext + (long)SeqLen * QueryWidth;
        long rows = (long)SeqLen * ModelDim;
        fixed (float* dy = outputGrad, dx = inputGrad)
        {
            for (int b = 0; b < batch; b++)
            {
                float* saved = _saved!.Pointer + b * SavedLength;
                float* qkv = saved + rows;
                float* context = qkv + (long)SeqLen * _layer.QkvStride;
                float* lse = qkv + _layer.SequenceStateLength;
                float* dyb = dy + b * rows;
                // Output projection: dC = dY · W_o; dW_o += dYᵀ · C; db_o += Σ dY
                GenericLinearBackward.Run(dyb, ModelDim, context, QueryWidth, SeqLen, ModelDim, QueryWidth,
                    _outWeight.Pointer, _outWeightGrad.Pointer, _outBiasGrad.Pointer, dContext, QueryWidth);
                // Attention core: dC -> [dQ | dK | dV]
                _coreBackward.Sequence(qkv, qkv + QueryWidth, qkv + 2 * QueryWidth, _layer.QkvStride, context, dContext, QueryWidth, lse,
                    dQkv, dQkv + QueryWidth, dQkv + 2 * QueryWidth, qkvWidth);
                // Fused q/k/v projection: dX = [dQ | dK | dV] · W_in; dW_in += [dQ | dK | dV]ᵀ · X; db_in += Σ [dQ | dK | dV]
                GenericLinearBackward.Run(dQkv, qkvWidth, saved, ModelDim, SeqLen, qkvWidth, ModelDim,
                    _inWeight.Pointer, _inWeightGrad.Pointer, _inBiasGrad.Pointer, dx + b * rows, ModelDim);
            }
        }
    }

    /// <summary>The values of a parameter buffer; the packed copy is stale from here on.</summary>
    private Span<float> Values(AlignedBuffer buffer)
    {
        _packed = false;
        return buffer.Span;
    }

    public void Dispose()
    {
        foreach (AlignedBuffer? buffer in new[] { _inWeight, _inBias, _outWeight, _outBias, _inWeightGrad, _inBiasGrad, _outWeightGrad, _outBiasGrad, _saved, _work })
        {
            buffer?.Dispose();
        }
    }
}
