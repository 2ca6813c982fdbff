using System.Numerics.Tensors;

namespace AttnGen.Training;

/// <summary>
/// A fully connected layer <c>y = x·Wᵀ + b</c> with PyTorch's <c>nn.Linear</c> layout: <c>weight</c> is
/// <c>[OutFeatures, InFeatures]</c>, <c>bias</c> is <c>[OutFeatures]</c>. Inputs are row-major
/// <c>[rows, InFeatures]</c>; the layer keeps no activations, so <see cref="Backward"/> takes the input again.
/// </summary>
public sealed class Linear : ITrainable, IDisposable
{
    private readonly AlignedBuffer _weight;
    private readonly AlignedBuffer _weightGrad;
    private readonly AlignedBuffer? _bias;
    private readonly AlignedBuffer? _biasGrad;

    /// <summary>Creates the layer with zero parameters; call <see cref="ResetParameters"/> to initialise them.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        _weight = new AlignedBuffer(checked(inFeatures * outFeatures));
        _weightGrad = new AlignedBuffer(_weight.Length);
        Parameters.Add(new Parameter("weight", _weight, _weightGrad, outFeatures, inFeatures));
        if (bias)
        {
            _bias = new AlignedBuffer(outFeatures);
            _biasGrad = new AlignedBuffer(outFeatures);
            Parameters.Add(new Parameter("bias", _bias, _biasGrad, outFeatures));
        }
    }

    /// <summary>Width of an input row.</summary>
    public int InFeatures { get; }

    /// <summary>Width of an output row.</summary>
    public int OutFeatures { get; }

    /// <summary><c>weight</c> and, when present, <c>bias</c>.</summary>
    public ParameterSet Parameters { get; } = new();

    /// <summary><c>[OutFeatures, InFeatures]</c>.</summary>
    public Span<float> Weight => _weight.Span;

    /// <summary><c>[OutFeatures]</c>, or empty without bias.</summary>
    public Span<float> Bias => _bias is null ? default : _bias.Span;

    /// <summary>Initialises as PyTorch does by default (<see cref="InitKind.LinearDefault"/> for weight and bias), or with another weight rule.</summary>
    public void ResetParameters(ulong seed, InitKind weightInit = InitKind.LinearDefault)
    {
        var random = new SeededRandom(seed);
        ParameterInit.Fill(Weight, weightInit, InFeatures, OutFeatures, ref random);
        if (_bias is not null)
        {
            ParameterInit.Fill(Bias, InitKind.LinearDefault, InFeatures, OutFeatures, ref random);
        }
    }

    /// <summary><paramref name="output"/> <c>[rows, OutFeatures]</c> = <paramref name="input"/> <c>[rows, InFeatures]</c> · Wᵀ + b.</summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> output, int rows)
    {
        Guard.Batch(rows, Math.Max(InFeatures, OutFeatures));
        Guard.Length(input.Length, rows, 1, InFeatures, nameof(input));
        Guard.Length(output.Length, rows, 1, OutFeatures, nameof(output));
        Apply(input, Weight, Bias, output, rows, InFeatures, OutFeatures);
    }

    /// <summary>
    /// Accumulates <c>dW += dyᵀ·x</c> and <c>db += Σ dy</c>, and writes <c>dx = dy·W</c> into
    /// <paramref name="inputGrad"/> (pass an empty span when the input needs no gradient).
    /// </summary>
    public void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, Span<float> inputGrad, int rows)
    {
        Guard.Batch(rows, Math.Max(InFeatures, OutFeatures));
        Guard.Length(input.Length, rows, 1, InFeatures, nameof(input));
        Guard.Length(outputGrad.Length, rows, 1, OutFeatures, nameof(outputGrad));
        if (!inputGrad.IsEmpty)
        {
            Guard.Length(inputGrad.Length, rows, 1, InFeatures, nameof(inputGrad));
        }
        ApplyBackward(input, Weight, outputGrad, inputGrad, _weightGrad.Span, _biasGrad is null ? default : _biasGrad.Span, rows, InFeatures, OutFeatures);
    }

    /// <summary>
    /// The forward kernel on caller-owned spans: <c>y[r, o] = x[r, :]·w[o, :] + b[o]</c> (<paramref name="bias"/>
    /// may be empty). Lengths are the caller's responsibility.
    /// </summary>
    public static void Apply(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> output, int rows, int inFeatures, int outFeatures)
    {
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> x = input.Slice(r * inFeatures, inFeatures);
            Span<float> y = output.Slice(r * outFeatures, outFeatures);
            for (int o = 0; o < outFeatures; o++)
            {
                y[o] = RowKernels.Dot(x, weight.Slice(o * inFeatures, inFeatures));
            }
            if (!bias.IsEmpty)
            {
                TensorPrimitives.Add(y, bias, y);
            }
        }
    }

    /// <summary>
    /// The backward kernel on caller-owned spans: accumulates <c>weightGrad += dyᵀ·x</c> and
    /// <c>biasGrad += Σ_r dy[r]</c> (skipped when empty) and writes <c>dx = dy·w</c> (skipped when empty).
    /// </summary>
    public static void ApplyBackward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> outputGrad, Span<float> inputGrad,
        Span<float> weightGrad, Span<float> biasGrad, int rows, int inFeatures, int outFeatures)
    {
        if (!inputGrad.IsEmpty)
        {
            inputGrad.Slice(0, rows * inFeatures).Clear();
        }
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> x = input.Slice(r * inFeatures, inFeatures);
            ReadOnlySpan<float> dy = outputGrad.Slice(r * outFeatures, outFeatures);
            Span<float> dx = inputGrad.IsEmpty ? default : inputGrad.Slice(r * inFeatures, inFeatures);
            for (int o = 0; o < outFeatures; o++)
            {
                float g = dy[o];
                if (g == 0)
                {
                    continue;
                }
                Span<float> dw = weightGrad.Slice(o * inFeatures, inFeatures);
                RowKernels.ScaledAdd(x, g, dw);
                if (!dx.IsEmpty)
                {
                    RowKernels.ScaledAdd(weight.Slice(o * inFeatures, inFeatures), g, dx);
                }
            }
            if (!biasGrad.IsEmpty)
            {
                TensorPrimitives.Add(biasGrad, dy, biasGrad);
            }
        }
    }

    /// <summary>Frees the parameter and gradient buffers.</summary>
    public void Dispose()
    {
        _weight.Dispose();
        _weightGrad.Dispose();
        _bias?.Dispose();
        _biasGrad?.Dispose();
    }
}
