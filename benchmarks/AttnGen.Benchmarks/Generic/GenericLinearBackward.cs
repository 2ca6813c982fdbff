using System.Numerics.Tensors;

namespace AttnGen.Benchmarks.Generic;

/// <summary>
/// Backward of a linear layer <c>Y[rows, out] = X[rows, in] · W[out, in]ᵀ + b</c> with runtime shapes, the same
/// two products the generated <c>LinearBackward_*</c> kernels compute, on W and X as they are (row-major, unpacked).
/// </summary>
internal static unsafe class GenericLinearBackward
{
    /// <summary>
    /// <c>dX = dY · W</c> (overwritten), <c>dW += dYᵀ · X</c>, <c>db += Σ_rows dY</c>. dY, X and dX rows are
    /// <paramref name="dyStride"/>, <paramref name="xStride"/> and <paramref name="dxStride"/> floats apart.
    /// </summary>
    public static void Run(float* dy, int dyStride, float* x, int xStride, int rows, int outFeatures, int inFeatures,
        float* w, float* dw, float* db, float* dx, int dxStride)
    {
        for (int r = 0; r < rows; r++)
        {
            new Span<float>(dx + (long)r * dxStride, inFeatures).Clear();
        }
        // dX[r, :] += Σ_n dY[r, n] · W[n, :]
        GenericProduct.MultiplyAdd(dy, dyStride, 1, rows, outFeatures, w, inFeatures, dx, dxStride, inFeatures);
        // dW[n, :] += Σ_r dY[r, n] · X[r, :] (dY read transposed)
        GenericProduct.MultiplyAdd(dy, 1, dyStride, outFeatures, rows, x, xStride, dw, inFeatures, inFeatures);
        var bias = new Span<float>(db, outFeatures);
        for (int r = 0; r < rows; r++)
        {
            TensorPrimitives.Add(bias, new ReadOnlySpan<float>(dy + (long)r * dyStride, outFeatures), bias);
        }
    }
}
