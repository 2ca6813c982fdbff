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
    private readonly AlignedBuffer _weightTransposed; // Wᵀ [InFeatures, OutFeatures], refreshed by each blocked Forward

    /// <summary>Creates the layer with zero parameters; call <see cref="ResetParameters"/> to initialise them.</summary>
    public Linear(int inFeatures, int outFeatures, bool bias = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        _weight = new AlignedBuffer(checked(inFeatures * outFeatures));
        _weightGrad = new AlignedBuffer(_weight.Length);
        _weightTransposed = new AlignedBuffer(_weight.Length);
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
        if (rows < BlockedRows)
        {
            Apply(input, Weight, Bias, output, rows, InFeatures, OutFeatures);
            return;
        }
        // Many rows: y = x·Wᵀ as a blocked product with Wᵀ laid out row-major (the transpose costs one pass over W).
        Span<float> transposed = _weightTransposed.Span;
        ReadOnlySpan<float> weight = Weight;
        for (int o = 0; o < OutFeatures; o++)
        {
            for (int i = 0; i < InFeatures; i++)
            {
                transposed[i * OutFeatures + o] = weight[o * InFeatures + i];
            }
        }
        for (int r = 0; r < rows; r++)
        {
            Span<float> y = output.Slice(r * OutFeatures, OutFeatures);
            if (_bias is null)
            {
                y.Clear();
            }
            else
            {
                Bias.CopyTo(y);
            }
        }
        SmallGemm.MultiplyAdd(input, InFeatures, 1, transposed, output, rows, OutFeatures, InFeatures);
    }

    /// <summary>From this many rows on, Forward transposes W once and runs the blocked product.</summary>
    private const int BlockedRows = 8;

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
    /// <c>biasGrad += Σ_r dy[r]</c> (skipped when empty) and writes <c>dx = dy·w</c> (skipped when empty),
    /// both products blocked (<see cref="SmallGemm"/>).
    /// </summary>
    public static void ApplyBackward(ReadOnlySpan<float> input, ReadOnlySpan<float> weight, ReadOnlySpan<float> outputGrad, Span<float> inputGrad,
        Span<float> weightGrad, Span<float> biasGrad, int rows, int inFeatures, int outFeatures)
    {
        if (!inputGrad.IsEmpty)
        {
            // dx [rows, in] = dy [rows, out] · W [out, in]
            inputGrad.Slice(0, rows * inFeatures).Clear();
            SmallGemm.MultiplyAdd(outputGrad, outFeatures, 1, weight, inputGrad, rows, inFeatures, outFeatures);
        }
        // dW [out, in] += dyᵀ [out, rows] · x [rows, in]: dyᵀ(o, r) = dy[r·out + o]
        SmallGemm.MultiplyAdd(outputGrad, 1, outFeatures, input, weightGrad, outFeatures, inFeatures, rows);
        if (!biasGrad.IsEmpty)
        {
            for (int r = 0; r < rows; r++)
            {
                TensorPrimitives.Add(biasGrad, outputGrad.Slice(r * outFeatures, outFeatures), biasGrad);
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
        _weightTransposed.Dispose();
    }
}
