using System.Numerics.Tensors;

namespace AttnGen.Training;

/// <summary>Which form of GELU a <see cref="Gelu"/> layer computes (PyTorch's <c>approximate</c> argument).</summary>
public enum GeluApproximation
{
    /// <summary>
    /// The exact form <c>x · Φ(x) = 0.5 · x · (1 + erf(x / √2))</c>: PyTorch's default (<c>nn.GELU()</c>,
    /// <c>approximate='none'</c>) and BERT's.
    /// </summary>
    None = 0,

    /// <summary>
    /// The tanh form <c>0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))</c>: PyTorch's <c>nn.GELU(approximate='tanh')</c>
    /// and GPT-2's <c>gelu_new</c>.
    /// </summary>
    Tanh = 1,
}

/// <summary>
/// The GELU activation, element-wise, with its backward. It keeps no activations: Backward recomputes from the
/// input. Each element is computed in double and rounded once to float. The tanh form is evaluated through the
/// identity <c>0.5 · (1 + tanh(u)) = 1 / (1 + e^(−2u))</c>, vectorised over blocks of elements: no cancellation
/// in the lower tail, and several times faster than a scalar tanh per element.
/// </summary>
public sealed class Gelu
{
    private const double Sqrt2 = 1.4142135623730951;
    private const double InvSqrt2Pi = 0.3989422804014327; // 1 / √(2π)
    private const double TanhScale = 0.7978845608028654;  // √(2/π)
    private const double TanhCubic = 0.044715;
    private const int Block = 256; // elements converted to double and evaluated together (a few KB of stack)

    /// <summary>A GELU of the given form (the exact erf form by default, as PyTorch's <c>nn.GELU()</c>).</summary>
    public Gelu(GeluApproximation approximation = GeluApproximation.None)
    {
        if (approximation is not (GeluApproximation.None or GeluApproximation.Tanh))
        {
            throw new ArgumentOutOfRangeException(nameof(approximation), approximation, $"'{nameof(approximation)}' is {approximation}; expected None or Tanh.");
        }
        Approximation = approximation;
    }

    /// <summary>The form computed.</summary>
    public GeluApproximation Approximation { get; }

    /// <summary><c>output[i] = GELU(input[i])</c>; the spans have the same length (they may be the same span).</summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> output)
    {
        Guard.Length(output.Length, 1, 1, input.Length, nameof(output));
        if (Approximation == GeluApproximation.Tanh)
        {
            ForwardTanh(input, output);
            return;
        }
        for (int i = 0; i < input.Length; i++)
        {
            double x = input[i];
            output[i] = (float)(x * Phi(x));
        }
    }

    /// <summary>
    /// Writes (does not add) <c>inputGrad[i] = outputGrad[i] · GELU'(input[i])</c>, with
    /// <c>GELU'(x) = Φ(x) + x · φ(x)</c> for the exact form and
    /// <c>0.5 · (1 + t) + 0.5 · x · (1 − t²) · √(2/π) · (1 + 3 · 0.044715 · x²)</c>, <c>t = tanh(√(2/π) · (x + 0.044715 · x³))</c>, for the tanh form.
    /// <paramref name="inputGrad"/> may be the same span as <paramref name="outputGrad"/>.
    /// </summary>
    public void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, Span<float> inputGrad)
    {
        Guard.Length(outputGrad.Length, 1, 1, input.Length, nameof(outputGrad));
        Guard.Length(inputGrad.Length, 1, 1, input.Length, nameof(inputGrad));
        if (Approximation == GeluApproximation.Tanh)
        {
            BackwardTanh(input, outputGrad, inputGrad);
            return;
        }
        for (int i = 0; i < input.Length; i++)
        {
            double x = input[i];
            double slope = Phi(x) + x * InvSqrt2Pi * Math.Exp(-0.5 * x * x);
            inputGrad[i] = (float)(outputGrad[i] * slope);
        }
    }

    /// <summary>y = x · σ(2u) with u = √(2/π)·(x + 0.044715·x³), σ(z) = 1 / (1 + e^(−z)).</summary>
    private static void ForwardTanh(ReadOnlySpan<float> input, Span<float> output)
    {
        Span<double> x = stackalloc double[Block], e = stackalloc double[Block];
        for (int start = 0; start < input.Length; start += Block)
        {
            int n = Math.Min(Block, input.Length - start);
            Span<double> xs = x[..n], es = e[..n];
            TensorPrimitives.ConvertChecked(input.Slice(start, n), xs);
            ExpMinusTwoU(xs, es);
            TensorPrimitives.Add(es, 1.0, es);
            TensorPrimitives.Divide(xs, es, es);
            TensorPrimitives.ConvertTruncating(es, output.Slice(start, n));
        }
    }

    /// <summary>
    /// With σ = σ(2u): 0.5·(1 + t) = σ and 1 − t² = 4·σ·(1 − σ), so
    /// GELU'(x) = σ + 2·x·σ·(1 − σ)·√(2/π)·(1 + 3·0.044715·x²), where 1 − σ = e^(−2u)·σ is taken without cancellation.
    /// </summary>
    private static void BackwardTanh(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, Span<float> inputGrad)
    {
        Span<double> x = stackalloc double[Block], e = stackalloc double[Block], sigma = stackalloc double[Block], a = stackalloc double[Block];
        for (int start = 0; start < input.Length; start += Block)
        {
            int n = Math.Min(Block, input.Length - start);
            Span<double> xs = x[..n], es = e[..n], ss = sigma[..n], cs = a[..n];
            TensorPrimitives.ConvertChecked(input.Slice(start, n), xs);
            ExpMinusTwoU(xs, es);
            TensorPrimitives.Add(es, 1.0, ss);
            TensorPrimitives.Reciprocal(ss, ss);                         // σ
            TensorPrimitives.Multiply(es, ss, es);                       // 1 − σ
            TensorPrimitives.Multiply(es, ss, es);                       // σ·(1 − σ)
            TensorPrimitives.Multiply(xs, xs, cs);
            TensorPrimitives.Multiply(cs, 3 * TanhCubic, cs);
            TensorPrimitives.Add(cs, 1.0, cs);                           // 1 + 3·0.044715·x²
            TensorPrimitives.Multiply(cs, xs, cs);
            TensorPrimitives.Multiply(cs, es, cs);
            TensorPrimitives.MultiplyAdd(cs, 2 * TanhScale, ss, cs);     // slope
            TensorPrimitives.ConvertChecked(outputGrad.Slice(start, n), es);
            TensorPrimitives.Multiply(cs, es, cs);
            TensorPrimitives.ConvertTruncating(cs, inputGrad.Slice(start, n));
        }
    }

    /// <summary>
    /// e = e^(−2u), u = √(2/π)·x·(1 + 0.044715·x²). The exponent is capped at 700 (x below about −19.4), where σ is
    /// about 1e-304 and every result rounds to the float of the exact one, so e stays finite and σ·e never is ∞·0.
    /// </summary>
    private static void ExpMinusTwoU(ReadOnlySpan<double> x, Span<double> e)
    {
        TensorPrimitives.Multiply(x, x, e);
        TensorPrimitives.Multiply(e, TanhCubic, e);
        TensorPrimitives.Add(e, 1.0, e);
        TensorPrimitives.Multiply(e, x, e);
        TensorPrimitives.Multiply(e, -2 * TanhScale, e);
        TensorPrimitives.Min(e, 700.0, e);
        TensorPrimitives.Exp(e, e);
    }

    /// <summary>The standard normal distribution function Φ(x) = erfc(−x/√2) / 2, accurate relative to its value in both tails.</summary>
    private static double Phi(double x)
    {
        double z = x / Sqrt2;
        return z >= 0 ? 1 - 0.5 * Erfc(z) : 0.5 * Erfc(-z);
    }

    /// <summary>
    /// erfc(z) for z ≥ 0 by the Chebyshev-fitted exponential form of Press et al. (Numerical Recipes, §6.2), fractional
    /// error below 1.2e-7 for every z, so Φ keeps float precision even far in the lower tail.
    /// </summary>
    private static double Erfc(double z)
    {
        double t = 1 / (1 + 0.5 * z);
        double poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
        return t * Math.Exp(-z * z + poly);
    }
}
