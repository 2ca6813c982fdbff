using System.Numerics.Tensors;
using AttnGen;
using AttnGen.Training;

namespace TextClassification.Model;

/// <summary>Inference through a generated layer's own <c>Forward</c>.</summary>
internal delegate void AttentionForward(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths);

/// <summary>
/// Temporary: plain C# float32 training members for a generated attention layer until the
/// generator emits its own <c>ForwardTrain</c>/<c>Backward</c>. It reads and trains the generated layer's
/// parameter block in place and runs inference through the generated <c>Forward</c>; large batches run
/// their sequences' attention cores in parallel. It covers what the
/// sample and tests declare: self-attention, scaled dot-product scoring, not causal, <c>KvHeads == Heads</c>,
/// projections with bias. When the generated layer has the training members, delete this file and
/// declare the layer as <see cref="ITrainableAttention"/> instead.
/// </summary>
internal sealed class TemporaryAttentionTrainingShim : ITrainableAttention
{
    private readonly IDisposable _layer;
    private readonly SpanSource _parameters;
    private readonly AttentionForward _forward;
    private readonly AlignedBuffer _gradients;
    private readonly int _heads, _headDim, _seqLen, _modelDim, _width;
    private readonly float _scale;
    private readonly int _inWeight, _inBias, _outWeight, _outBias;

    // Saved by ForwardTrain for Backward, sized for the largest batch seen.
    private int _capacity;
    private float[] _input = [], _qkv = [], _probs = [], _context = [], _contextGrad = [], _qkvGrad = [], _rowGrad = [];
    private int[] _valid = [];
    private readonly Action<int> _forwardSequence, _backwardSequence;

    // Score entries (batch x heads x seqLen²) from which the core runs sequences in parallel.
    private const long ParallelThreshold = 1 << 16;

    /// <summary>Wraps <paramref name="layer"/>, whose parameters are <paramref name="parameterBlock"/> laid out as <paramref name="layout"/>.</summary>
    public TemporaryAttentionTrainingShim(IDisposable layer, SpanSource parameterBlock, AttentionForward forward,
        IReadOnlyList<LayerParameter> layout, int heads, int headDim, int seqLen, int modelDim, float scale)
    {
        _layer = layer;
        _parameters = parameterBlock;
        _forward = forward;
        (_heads, _headDim, _seqLen, _modelDim, _scale) = (heads, headDim, seqLen, modelDim, scale);
        _width = heads * headDim;
        _inWeight = Offset(layout, "in_proj_weight", 3 * _width * modelDim);
        _inBias = Offset(layout, "in_proj_bias", 3 * _width);
        _outWeight = Offset(layout, "out_proj.weight", modelDim * _width);
        _outBias = Offset(layout, "out_proj.bias", modelDim);
        if (layout.Count != 4)
        {
            throw new NotSupportedException("The training shim covers scaled dot-product self-attention with biased projections only.");
        }
        _gradients = new AlignedBuffer(parameterBlock().Length);
        _forwardSequence = ForwardSequence;
        _backwardSequence = BackwardSequence;
    }

    public Span<float> ParameterBlock => _parameters();

    public Span<float> GradientBlock => _gradients.Span;

    public void ZeroGradients() => _gradients.Span.Clear();

    public void Forward(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths)
        => _forward(input, output, batch, validLengths);

    public void ForwardTrain(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths)
    {
        Check(input.Length, output.Length, batch, validLengths);
        EnsureCapacity(batch);
        int rows = batch * _seqLen;
        ReadOnlySpan<float> p = ParameterBlock;
        input.CopyTo(_input);
        StoreValidLengths(validLengths, batch);

        // qkv[r] = x[r] · in_proj_weightᵀ + in_proj_bias: q in columns [0, W), k in [W, 2W), v in [2W, 3W).
        Linear.Apply(input, p.Slice(_inWeight, 3 * _width * _modelDim), p.Slice(_inBias, 3 * _width), _qkv.AsSpan(0, rows * 3 * _width), rows, _modelDim, 3 * _width);
        ForEachSequence(batch, _forwardSequence);
        // output = context · out_proj.weightᵀ + out_proj.bias
        Linear.Apply(_context.AsSpan(0, rows * _width), p.Slice(_outWeight, _modelDim * _width), p.Slice(_outBias, _modelDim), output, rows, _width, _modelDim);
    }

    public void Backward(ReadOnlySpan<float> outputGrad, Span<float> inputGrad, int batch, ReadOnlySpan<int> validLengths)
    {
        Check(outputGrad.Length, inputGrad.Length, batch, validLengths);
        if (batch > _capacity)
        {
            throw new InvalidOperationException("Backward needs a ForwardTrain of the same batch first.");
        }
        int rows = batch * _seqLen;
        ReadOnlySpan<float> p = ParameterBlock;
        Span<float> g = GradientBlock;
        StoreValidLengths(validLengths, batch);

        // Output projection: d out_proj, and the gradient of the attention context.
        Linear.ApplyBackward(_context.AsSpan(0, rows * _width), p.Slice(_outWeight, _modelDim * _width), outputGrad, _contextGrad.AsSpan(0, rows * _width),
            g.Slice(_outWeight, _modelDim * _width), g.Slice(_outBias, _modelDim), rows, _width, _modelDim);
        ForEachSequence(batch, _backwardSequence);
        // Input projections: d in_proj, and the input gradient.
        Linear.ApplyBackward(_input.AsSpan(0, rows * _modelDim), p.Slice(_inWeight, 3 * _width * _modelDim), _qkvGrad.AsSpan(0, rows * 3 * _width), inputGrad,
            g.Slice(_inWeight, 3 * _width * _modelDim), g.Slice(_inBias, 3 * _width), rows, _modelDim, 3 * _width);
    }

    /// <summary>Softmax attention of sequence <paramref name="b"/>: saves the probabilities, writes the context.</summary>
    private void ForwardSequence(int b)
    {
        int valid = _valid[b];
        for (int h = 0; h < _heads; h++)
        {
            for (int i = 0; i < _seqLen; i++)
            {
                Span<float> prob = Probabilities(b, h, i);
                Span<float> ctx = _context.AsSpan((b * _seqLen + i) * _width + h * _headDim, _headDim);
                prob.Clear();
                ctx.Clear();
                if (valid == 0)
                {
                    continue; // no visible key: zero context, as the generated kernel
                }
                ReadOnlySpan<float> q = Head(_qkv, b, i, 0, h);
                for (int j = 0; j < valid; j++)
                {
                    prob[j] = _scale * Dot(q, Head(_qkv, b, j, 1, h));
                }
                Span<float> visible = prob.Slice(0, valid);
                TensorPrimitives.SoftMax(visible, visible);
                for (int j = 0; j < valid; j++)
                {
                    AddScaled(Head(_qkv, b, j, 2, h), prob[j], ctx);
                }
            }
        }
    }

    /// <summary>
    /// Backward of the attention core of sequence <paramref name="b"/>: dV += Pᵀ·dC, dP = dC·Vᵀ,
    /// dS = P ∘ (dP - rowsum(dP ∘ P)), dQ = scale·dS·K, dK = scale·dSᵀ·Q.
    /// </summary>
    private void BackwardSequence(int b)
    {
        int valid = _valid[b];
        _qkvGrad.AsSpan(b * _seqLen * 3 * _width, _seqLen * 3 * _width).Clear();
        Span<float> dp = _rowGrad.AsSpan(b * _seqLen, _seqLen);
        for (int h = 0; h < _heads; h++)
        {
            for (int i = 0; i < _seqLen && valid > 0; i++)
            {
                ReadOnlySpan<float> prob = Probabilities(b, h, i).Slice(0, valid);
                ReadOnlySpan<float> dc = _contextGrad.AsSpan((b * _seqLen + i) * _width + h * _headDim, _headDim);
                for (int j = 0; j < valid; j++)
                {
                    dp[j] = Dot(dc, Head(_qkv, b, j, 2, h));
                    AddScaled(dc, prob[j], Head(_qkvGrad, b, j, 2, h));
                }
                float delta = Dot(dp.Slice(0, valid), prob);
                ReadOnlySpan<float> q = Head(_qkv, b, i, 0, h);
                Span<float> dq = Head(_qkvGrad, b, i, 0, h);
                for (int j = 0; j < valid; j++)
                {
                    float ds = _scale * prob[j] * (dp[j] - delta);
                    AddScaled(Head(_qkv, b, j, 1, h), ds, dq);
                    AddScaled(q, ds, Head(_qkvGrad, b, j, 1, h));
                }
            }
        }
    }

    /// <summary>Sequences are independent in the attention core: large batches use every core, small ones stay on this thread (and allocate nothing).</summary>
    private void ForEachSequence(int batch, Action<int> body)
    {
        if ((long)batch * _heads * _seqLen * _seqLen >= ParallelThreshold && Environment.ProcessorCount > 1)
        {
            Parallel.For(0, batch, body);
            return;
        }
        for (int b = 0; b < batch; b++)
        {
            body(b);
        }
    }

    private void Check(int inputLength, int outputLength, int batch, ReadOnlySpan<int> validLengths)
    {
        Guard.Batch(batch, (long)_seqLen * 3 * _width);
        Guard.Length(inputLength, batch, _seqLen, _modelDim, "input");
        Guard.Length(outputLength, batch, _seqLen, _modelDim, "output");
        Guard.ValidLengths(validLengths, batch, _seqLen, nameof(validLengths));
    }

    private void StoreValidLengths(ReadOnlySpan<int> validLengths, int batch)
    {
        for (int b = 0; b < batch; b++)
        {
            _valid[b] = validLengths.IsEmpty ? _seqLen : validLengths[b];
        }
    }

    public void Dispose()
    {
        _gradients.Dispose();
        _layer.Dispose();
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float sum = 0;
        for (int d = 0; d < a.Length; d++)
        {
            sum += a[d] * b[d];
        }
        return sum;
    }

    /// <summary>acc += s · x.</summary>
    private static void AddScaled(ReadOnlySpan<float> x, float s, Span<float> acc)
    {
        for (int d = 0; d < x.Length; d++)
        {
            acc[d] += s * x[d];
        }
    }

    /// <summary>Head <paramref name="h"/> of the q (part 0), k (1) or v (2) row of position <paramref name="t"/> in sequence <paramref name="b"/>.</summary>
    private Span<float> Head(float[] qkv, int b, int t, int part, int h)
        => qkv.AsSpan((b * _seqLen + t) * 3 * _width + part * _width + h * _headDim, _headDim);

    private Span<float> Probabilities(int b, int h, int i)
        => _probs.AsSpan(((b * _heads + h) * _seqLen + i) * _seqLen, _seqLen);

    private void EnsureCapacity(int batch)
    {
        if (batch <= _capacity)
        {
            return;
        }
        int rows = batch * _seqLen;
        _input = new float[rows * _modelDim];
        _qkv = new float[rows * 3 * _width];
        _qkvGrad = new float[rows * 3 * _width];
        _context = new float[rows * _width];
        _contextGrad = new float[rows * _width];
        _probs = new float[batch * _heads * _seqLen * _seqLen];
        _rowGrad = new float[batch * _seqLen];
        _valid = new int[batch];
        _capacity = batch;
    }

    private static int Offset(IReadOnlyList<LayerParameter> layout, string name, int length)
    {
        foreach (LayerParameter p in layout)
        {
            if (p.Name == name)
            {
                return p.Length == length ? p.Offset
                    : throw new ArgumentException($"'{name}' has {p.Length} floats; the shim expects {length}.", nameof(layout));
            }
        }
        throw new NotSupportedException($"The training shim needs a '{name}' parameter.");
    }
}
