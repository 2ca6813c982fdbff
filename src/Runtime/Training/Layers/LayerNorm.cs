using System.Numerics.Tensors;

namespace AttnGen.Training;

/// <summary>
/// Layer normalisation over the last dimension (PyTorch's <c>nn.LayerNorm(Dim)</c>):
/// <c>y = (x - mean) / sqrt(var + eps) · weight + bias</c> per row, with the biased variance.
/// Backward recomputes the row statistics from the input, so the layer keeps no activations.
/// </summary>
public sealed class LayerNorm : ITrainable, IDisposable
{
    private readonly AlignedBuffer _gamma;
    private readonly AlignedBuffer _gammaGrad;
    private readonly AlignedBuffer _beta;
    private readonly AlignedBuffer _betaGrad;
    private readonly AlignedBuffer _scratch;

    /// <summary>Creates the layer with <c>weight = 1</c>, <c>bias = 0</c>.</summary>
    public LayerNorm(int dim, float epsilon = 1e-5f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(epsilon);
        Dim = dim;
        Epsilon = epsilon;
        _gamma = new AlignedBuffer(dim);
        _gammaGrad = new AlignedBuffer(dim);
        _beta = new AlignedBuffer(dim);
        _betaGrad = new AlignedBuffer(dim);
        _scratch = new AlignedBuffer(2 * dim);
        Parameters.Add(new Parameter("weight", _gamma, _gammaGrad, dim)).Add(new Parameter("bias", _beta, _betaGrad, dim));
        ResetParameters();
    }

    /// <summary>Width of a row.</summary>
    public int Dim { get; }

    /// <summary>Added to the variance.</summary>
    public float Epsilon { get; }

    /// <summary><c>weight</c> (the scale γ) and <c>bias</c> (the shift β).</summary>
    public ParameterSet Parameters { get; } = new();

    /// <summary>γ, <c>[Dim]</c>.</summary>
    public Span<float> Weight => _gamma.Span;

    /// <summary>β, <c>[Dim]</c>.</summary>
    public Span<float> Bias => _beta.Span;

    /// <summary>Sets γ to ones and β to zeros.</summary>
    public void ResetParameters()
    {
        Weight.Fill(1f);
        Bias.Clear();
    }

    /// <summary>Normalises each of <paramref name="rows"/> rows of <paramref name="input"/> into <paramref name="output"/>.</summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> output, int rows)
    {
        Guard.Batch(rows, Dim);
        Guard.Length(input.Length, rows, 1, Dim, nameof(input));
        Guard.Length(output.Length, rows, 1, Dim, nameof(output));
        Span<float> xhat = _scratch.Slice(0, Dim);
        for (int r = 0; r < rows; r++)
        {
            Normalize(input.Slice(r * Dim, Dim), xhat);
            TensorPrimitives.MultiplyAdd(xhat, Weight, Bias, output.Slice(r * Dim, Dim));
        }
    }

    /// <summary>
    /// Accumulates the gradients of γ and β and writes the input gradient
    /// <c>dx = rstd · (dx̂ - mean(dx̂) - x̂ · mean(dx̂ ∘ x̂))</c> with <c>dx̂ = dy ∘ γ</c>.
    /// </summary>
    public void Backward(ReadOnlySpan<float> input, ReadOnlySpan<float> outputGrad, Span<float> inputGrad, int rows)
    {
        Guard.Batch(rows, Dim);
        Guard.Length(input.Length, rows, 1, Dim, nameof(input));
        Guard.Length(outputGrad.Length, rows, 1, Dim, nameof(outputGrad));
        Guard.Length(inputGrad.Length, rows, 1, Dim, nameof(inputGrad));
        Span<float> xhat = _scratch.Slice(0, Dim);
        Span<float> dxhat = _scratch.Slice(Dim, Dim);
        Span<float> gammaGrad = _gammaGrad.Span;
        Span<float> betaGrad = _betaGrad.Span;
        float invDim = 1f / Dim;
        for (int r = 0; r < rows; r++)
        {
            float rstd = Normalize(input.Slice(r * Dim, Dim), xhat);
            ReadOnlySpan<float> dy = outputGrad.Slice(r * Dim, Dim);
            TensorPrimitives.MultiplyAdd(dy, xhat, gammaGrad, gammaGrad);
            TensorPrimitives.Add(betaGrad, dy, betaGrad);

            TensorPrimitives.Multiply(dy, Weight, dxhat);
            float meanDxhat = TensorPrimitives.Sum<float>(dxhat) * invDim;
            float meanDxhatXhat = TensorPrimitives.Dot<float>(dxhat, xhat) * invDim;
            Span<float> dx = inputGrad.Slice(r * Dim, Dim);
            TensorPrimitives.MultiplyAdd(xhat, -meanDxhatXhat, dxhat, dx);
            TensorPrimitives.Subtract(dx, meanDxhat, dx);
            TensorPrimitives.Multiply(dx, rstd, dx);
        }
    }

    /// <summary>x̂ = (x - mean) · rstd; returns rstd = 1 / sqrt(var + eps).</summary>
    private float Normalize(ReadOnlySpan<float> x, Span<float> xhat)
    {
        float mean = TensorPrimitives.Sum(x) / Dim;
        TensorPrimitives.Subtract(x, mean, xhat);
        float variance = TensorPrimitives.SumOfSquares<float>(xhat) / Dim;
        float rstd = 1f / MathF.Sqrt(variance + Epsilon);
        TensorPrimitives.Multiply(xhat, rstd, xhat);
        return rstd;
    }

    /// <summary>Frees the parameter, gradient and scratch buffers.</summary>
    public void Dispose()
    {
        _gamma.Dispose();
        _gammaGrad.Dispose();
        _beta.Dispose();
        _betaGrad.Dispose();
        _scratch.Dispose();
    }
}
