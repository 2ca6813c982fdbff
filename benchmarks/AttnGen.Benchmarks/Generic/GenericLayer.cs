namespace AttnGen.Benchmarks.Generic;

/// <summary>
/// A full self-attention layer with runtime shapes: one fused q/k/v projection GEMM on weights packed
/// once, the <see cref="GenericAttention"/> core reading q, k and v in place from the projection output,
/// and the output projection GEMM. Same parameters and layout as PyTorch <c>nn.MultiheadAttention</c>.
/// </summary>
public sealed unsafe class GenericLayer
{
    private readonly GenericAttention _core;
    private PackedLinear? _inProjection;
    private PackedLinear? _outProjection;
    private ScratchPool? _scratch;

    /// <summary>Creates the layer for one shape, given at run time; call <see cref="LoadWeights"/> next.</summary>
    public GenericLayer(int heads, int seqLen, int headDim, int modelDim, bool causal)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(modelDim, 1);
        _core = new GenericAttention(heads, seqLen, headDim, causal);
        ModelDim = modelDim;
    }

    /// <summary>Width of the layer's input and output rows.</summary>
    public int ModelDim { get; }

    /// <summary>Threads used over the sequences of a batch; 1 runs on the calling thread.</summary>
    public int MaxDegreeOfParallelism { get; set; } = 1;

    internal int QueryWidth => _core.Heads * _core.HeadDim;

    /// <summary>The attention core.</summary>
    internal GenericAttention Core => _core;

    /// <summary>Row stride of the fused q/k/v projection output (3 * QueryWidth rounded up to whole panels).</summary>
    internal int QkvStride => _inProjection!.PaddedOut;

    /// <summary>Packs PyTorch-layout weights: in_proj [3 * H * D, ModelDim], out_proj [ModelDim, H * D].</summary>
    /// <remarks>Later calls repack in place, so a training loop can call this after every optimizer step.</remarks>
    public void LoadWeights(ReadOnlySpan<float> inProjWeight, ReadOnlySpan<float> inProjBias, ReadOnlySpan<float> outProjWeight, ReadOnlySpan<float> outProjBias)
    {
        if (_inProjection is not null && _outProjection is not null)
        {
            _inProjection.Repack(inProjWeight, inProjBias);
            _outProjection.Repack(outProjWeight, outProjBias);
            return;
        }
        _inProjection = new PackedLinear(inProjWeight, inProjBias, 3 * QueryWidth, ModelDim);
        _outProjection = new PackedLinear(outProjWeight, outProjBias, ModelDim, QueryWidth);
        _scratch = new ScratchPool(SequenceStateLength);
    }

    /// <summary>Self-attention over <paramref name="input"/> [batch, SeqLen, ModelDim].</summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> output, int batch)
    {
        if (_inProjection is null || _outProjection is null)
        {
            throw new InvalidOperationException("LoadWeights first.");
        }
        long length = (long)batch * _core.SeqLen * ModelDim;
        if (batch < 1 || input.Length != length || output.Length != length)
        {
            throw new ArgumentException($"Expected batch >= 1 and spans of {length} floats.");
        }
        fixed (float* x = input, y = output)
        {
            long stride = (long)_core.SeqLen * ModelDim;
            if (MaxDegreeOfParallelism <= 1 || batch == 1)
            {
                for (int b = 0; b < batch; b++)
                {
                    Sequence(x + b * stride, y + b * stride);
                }
            }
            else
            {
                ForwardParallel(x, y, batch, stride);
            }
        }
    }

    /// <summary>Sequences over <see cref="MaxDegreeOfParallelism"/> threads (a method of its own so the closure is allocated only here).</summary>
    private void ForwardParallel(float* x, float* y, int batch, long stride)
    {
        nint xa = (nint)x, ya = (nint)y;
        var options = new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism };
        Parallel.For(0, batch, options, b => Sequence((float*)xa + b * stride, (float*)ya + b * stride));
    }

    private void Sequence(float* x, float* y)
    {
        float[] buffer = _scratch!.Rent();
        float* qkv = ScratchPool.Aligned(buffer);
        Sequence(x, y, qkv, qkv + (long)_core.SeqLen * QkvStride, null);
        _scratch.Return(buffer);
    }

    /// <summary>
    /// One sequence, keeping what backward needs where the caller says: the fused q/k/v projection
    /// (<c>[SeqLen, QkvStride]</c>), the context (<c>[SeqLen, QueryWidth]</c>, followed by room for a padded output
    /// row block when the output width is not whole panels) and, when <paramref name="lse"/> is not null, each
    /// head's row log-sum-exp (<c>[Heads, SeqLen]</c>).
    /// </summary>
    internal void Sequence(float* x, float* y, float* qkv, float* context, float* lse)
    {
        PackedLinear inProj = _inProjection!, outProj = _outProjection!;
        int seqLen = _core.SeqLen;
        int qkvStride = inProj.PaddedOut;
        bool direct = outProj.PaddedOut == ModelDim;
        long contextLength = (long)seqLen * QueryWidth;

        // [q | k | v] = x · W_inᵀ + b_in, one GEMM
        GenericGemm.Run(x, ModelDim, seqLen, inProj, qkv, qkvStride);
        // context = attention(q, k, v), read in place with the projection's row stride
        _core.Forward(qkv, qkv + QueryWidth, qkv + 2 * QueryWidth, qkvStride, context, QueryWidth, 1, 0, 0, lse);
        // y = context · W_outᵀ + b_out (through scratch when the output width is not whole panels)
        if (direct)
        {
            GenericGemm.Run(context, QueryWidth, seqLen, outProj, y, ModelDim);
        }
        else
        {
            float* padded = context + contextLength;
            GenericGemm.Run(context, QueryWidth, seqLen, outProj, padded, outProj.PaddedOut);
            for (int i = 0; i < seqLen; i++)
            {
                new ReadOnlySpan<float>(padded + (long)i * outProj.PaddedOut, ModelDim).CopyTo(new Span<float>(y + (long)i * ModelDim, ModelDim));
            }
        }
    }

    /// <summary>Floats <see cref="Sequence(float*, float*, float*, float*, float*)"/> needs for its q/k/v and context buffers together.</summary>
    internal long SequenceStateLength => (long)_core.SeqLen * (QkvStride + QueryWidth + (_outProjection!.PaddedOut == ModelDim ? 0 : _outProjection.PaddedOut));
}
