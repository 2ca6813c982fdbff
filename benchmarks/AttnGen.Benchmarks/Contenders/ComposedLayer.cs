using System.Numerics.Tensors;

namespace AttnGen.Benchmarks.Contenders;

/// <summary>
/// A full self-attention layer (q/k/v projections, attention core, output projection) built from one
/// projection routine and one attention core; <see cref="Naive"/> and <see cref="WithTensorPrimitives"/>
/// give the two contenders. Weights are kept in PyTorch <c>nn.MultiheadAttention</c> layout.
/// </summary>
public sealed class ComposedLayer
{
    /// <summary>y[rows, outF] = x[rows, inF] · W[outF, inF]ᵀ + b.</summary>
    private delegate void Linear(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y, int rows, int outFeatures, int inFeatures);

    /// <summary>One sequence of attention over token-major q, k, v.</summary>
    private delegate void Core(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> o);

    private readonly AttentionShape _shape;
    private readonly int _modelDim;
    private readonly Linear _linear;
    private readonly Core _core;
    private readonly float[] _inWeight, _inBias, _outWeight, _outBias;
    private readonly float[] _q, _k, _v, _context;

    private ComposedLayer(AttentionShape shape, int modelDim, Linear linear, Core core,
        ReadOnlySpan<float> inWeight, ReadOnlySpan<float> inBias, ReadOnlySpan<float> outWeight, ReadOnlySpan<float> outBias)
    {
        _shape = shape;
        _modelDim = modelDim;
        _linear = linear;
        _core = core;
        _inWeight = inWeight.ToArray();
        _inBias = inBias.ToArray();
        _outWeight = outWeight.ToArray();
        _outBias = outBias.ToArray();
        _q = new float[shape.SequenceLength];
        _k = new float[shape.SequenceLength];
        _v = new float[shape.SequenceLength];
        _context = new float[shape.SequenceLength];
    }

    /// <summary>Scalar loops for the projections and <see cref="NaiveAttention"/> for the core.</summary>
    public static ComposedLayer Naive(AttentionShape shape, int modelDim,
        ReadOnlySpan<float> inWeight, ReadOnlySpan<float> inBias, ReadOnlySpan<float> outWeight, ReadOnlySpan<float> outBias)
    {
        var core = new NaiveAttention(shape);
        return new ComposedLayer(shape, modelDim, NaiveLinear, (q, k, v, o) => core.Forward(q, k, v, o, 1), inWeight, inBias, outWeight, outBias);
    }

    /// <summary><see cref="TensorPrimitives.Dot(ReadOnlySpan{float}, ReadOnlySpan{float})"/> per output for the projections, <see cref="TensorPrimitivesAttention"/> for the core.</summary>
    public static ComposedLayer WithTensorPrimitives(AttentionShape shape, int modelDim,
        ReadOnlySpan<float> inWeight, ReadOnlySpan<float> inBias, ReadOnlySpan<float> outWeight, ReadOnlySpan<float> outBias)
    {
        var core = new TensorPrimitivesAttention(shape);
        return new ComposedLayer(shape, modelDim, DotLinear, (q, k, v, o) => core.Forward(q, k, v, o, 1), inWeight, inBias, outWeight, outBias);
    }

    /// <summary>Self-attention over <paramref name="input"/> [batch, SeqLen, ModelDim].</summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> output, int batch)
    {
        int s = _shape.SeqLen, m = _modelDim, w = _shape.Width;
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> x = input.Slice(b * s * m, s * m);
            _linear(x, _inWeight.AsSpan(0, w * m), _inBias.AsSpan(0, w), _q, s, w, m);
            _linear(x, _inWeight.AsSpan(w * m, w * m), _inBias.AsSpan(w, w), _k, s, w, m);
            _linear(x, _inWeight.AsSpan(2 * w * m, w * m), _inBias.AsSpan(2 * w, w), _v, s, w, m);
            _core(_q, _k, _v, _context);
            _linear(_context, _outWeight, _outBias, output.Slice(b * s * m, s * m), s, m, w);
        }
    }

    private static void NaiveLinear(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y, int rows, int outFeatures, int inFeatures)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int n = 0; n < outFeatures; n++)
            {
                float acc = 0f;
                for (int k = 0; k < inFeatures; k++)
                {
                    acc += x[r * inFeatures + k] * weight[n * inFeatures + k];
                }
                y[r * outFeatures + n] = acc + bias[n];
            }
        }
    }

    private static void DotLinear(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y, int rows, int outFeatures, int inFeatures)
    {
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xr = x.Slice(r * inFeatures, inFeatures);
            for (int n = 0; n < outFeatures; n++)
            {
                y[r * outFeatures + n] = TensorPrimitives.Dot(xr, weight.Slice(n * inFeatures, inFeatures)) + bias[n];
            }
        }
    }
}
