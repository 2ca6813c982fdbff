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
/// input. Each element is computed in double and rounded once to float.
/// </summary>
public sealed class Gelu
{
    private const double Sqrt2 = 1.4142135623730951;
    private const double InvSqrt2Pi = 0.3989422804014327; // 1 / √(2π)
    private const double TanhScale = 0.7978845608028654;  // √(2/π)
    private const double TanhCubic = 0.044715;

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
        for (int i = 0; i < input.Length; i++)
        {
            double x = input[i];
            output[i] = (float)(Approximation == GeluApproximation.None ? x * Phi(x) : 0.5 * x * (1 + Math.Tanh(TanhArgument(x))));
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
        for (int i = 0; i < input.Length; i++)
        {
            double x = input[i], slope;
            if (Approximation == GeluApproximation.None)
            {
                slope = Phi(x) + x * InvSqrt2Pi * Math.Exp(-0.5 * x * x);
            }
            else
            {
                double t = Math.Tanh(TanhArgument(x));
                slope = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * TanhScale * (1 + 3 * TanhCubic * x * x);
            }
            inputGrad[i] = (float)(outputGrad[i] * slope);
        }
    }

    private static double TanhArgument(double x) => TanhScale * (x + TanhCubic * x * x * x);

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
