using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AttnGen.Training;

/// <summary>Mean squared error over all elements (PyTorch's <c>nn.MSELoss</c> with mean reduction).</summary>
public static class MeanSquaredError
{
    // Elements summed in float vectors before the partial sum joins the double total: short enough that the float sum
    // loses nothing that matters, long enough that the double additions cost nothing.
    private const int Chunk = 4096;

    /// <summary>
    /// Returns <c>mean((prediction - target)²)</c> and writes its gradient <c>2 (prediction - target) / n</c>
    /// into <paramref name="predictionsGrad"/> (pass an empty span to skip the gradient).
    /// </summary>
    /// <remarks>
    /// One pass over the data: each difference is squared into the sum and scaled into the gradient while it is in a
    /// register (summed in float per chunk of 4,096 elements, the chunks in double).
    /// </remarks>
    /// <exception cref="ArgumentException">The spans' lengths differ or are zero.</exception>
    public static float Compute(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> predictionsGrad)
    {
        int n = predictions.Length;
        if (n == 0)
        {
            throw new ArgumentException("'predictions' is empty; the mean of no errors is undefined.", nameof(predictions));
        }
        Guard.Length(targets.Length, 1, 1, n, nameof(targets));
        bool gradient = !predictionsGrad.IsEmpty;
        if (gradient)
        {
            Guard.Length(predictionsGrad.Length, 1, 1, n, nameof(predictionsGrad));
        }
        ref float p = ref MemoryMarshal.GetReference(predictions);
        ref float t = ref MemoryMarshal.GetReference(targets);
        ref float g = ref MemoryMarshal.GetReference(predictionsGrad);
        float scale = 2f / n;
        var vScale = new Vector<float>(scale);
        int width = Vector<float>.Count;
        double total = 0;
        for (int start = 0; start < n; start += Chunk)
        {
            int end = Math.Min(n, start + Chunk), i = start;
            float partial = 0f;
            if (Vector.IsHardwareAccelerated)
            {
                Vector<float> sum = Vector<float>.Zero;
                for (; i <= end - width; i += width)
                {
                    Vector<float> d = Vector.LoadUnsafe(ref p, (nuint)i) - Vector.LoadUnsafe(ref t, (nuint)i);
                    sum += d * d;
                    if (gradient)
                    {
                        (d * vScale).StoreUnsafe(ref g, (nuint)i);
                    }
                }
                partial = Vector.Sum(sum);
            }
            for (; i < end; i++)
            {
                float d = Unsafe.Add(ref p, i) - Unsafe.Add(ref t, i);
                partial += d * d;
                if (gradient)
                {
                    Unsafe.Add(ref g, i) = d * scale;
                }
            }
            total += partial;
        }
        return (float)(total / n);
    }
}
