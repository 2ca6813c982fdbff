using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AttnGen.Training;

/// <summary>
/// Dot product for short rows (a few dozen floats), inlined into the layer loops: at these
/// lengths a library call's fixed cost is several times the arithmetic.
/// </summary>
internal static class RowKernels
{
    /// <summary>Σ a[i]·b[i] over a's length.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int n = a.Length;
        if (b.Length < n)
        {
            ThrowShort();
        }
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        var acc = Vector<float>.Zero;
        int i = 0;
        for (; i <= n - Vector<float>.Count; i += Vector<float>.Count)
        {
            acc = Vector.FusedMultiplyAdd(Vector.LoadUnsafe(ref ra, (nuint)i), Vector.LoadUnsafe(ref rb, (nuint)i), acc);
        }
        float sum = Vector.Sum(acc);
        for (; i < n; i++)
        {
            sum += Unsafe.Add(ref ra, i) * Unsafe.Add(ref rb, i);
        }
        return sum;
    }

    private static void ThrowShort() => throw new ArgumentException("The second span is shorter than the first.");
}
