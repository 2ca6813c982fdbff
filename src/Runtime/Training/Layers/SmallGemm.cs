using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AttnGen.Training;

/// <summary>
/// <c>C[m, n] += Σ_k A(i, k) · B[k, n]</c> for the training layers' matrix products, register-blocked: four rows of C
/// by two vectors of columns stay in registers while k runs, so each step loads two vectors of B and four
/// elements of A for eight fused multiply-adds (a row-by-row dot or scaled add loads two operands per one).
/// A is addressed by strides, <c>A(i, k) = a[i·aRow + k·aCol]</c>, so a transposed A costs nothing;
/// B and C are row-major with rows of n.
/// </summary>
internal static class SmallGemm
{
    /// <summary>Adds <c>A·B</c> into <paramref name="c"/>; the spans are checked to cover the shapes.</summary>
    public static void MultiplyAdd(ReadOnlySpan<float> a, int aRow, int aCol, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k)
    {
        if (m <= 0 || n <= 0 || k <= 0)
        {
            return;
        }
        if ((long)(m - 1) * aRow + (long)(k - 1) * aCol >= a.Length || (long)k * n > b.Length || (long)m * n > c.Length)
        {
            throw new ArgumentException($"The spans ({a.Length}, {b.Length}, {c.Length} floats) do not cover a product of [{m}, {k}] by [{k}, {n}].");
        }
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float rc = ref MemoryMarshal.GetReference(c);
        int width = Vector<float>.Count;
        int i = 0;
        for (; i + 4 <= m; i += 4)
        {
            int j = 0;
            for (; j + 2 * width <= n; j += 2 * width)
            {
                Block4x2(ref ra, aRow, aCol, ref rb, ref rc, i, j, n, k);
            }
            for (; j < n; j++)
            {
                for (int r = i; r < i + 4; r++)
                {
                    Unsafe.Add(ref rc, r * n + j) += Dot(ref ra, aRow, aCol, ref rb, r, j, n, k);
                }
            }
        }
        for (; i < m; i++)
        {
            int j = 0;
            for (; j + width <= n; j += width)
            {
                Vector<float> sum = Vector.LoadUnsafe(ref rc, (nuint)(i * n + j));
                for (int p = 0; p < k; p++)
                {
                    sum = Vector.FusedMultiplyAdd(new Vector<float>(Unsafe.Add(ref ra, i * aRow + p * aCol)), Vector.LoadUnsafe(ref rb, (nuint)(p * n + j)), sum);
                }
                sum.StoreUnsafe(ref rc, (nuint)(i * n + j));
            }
            for (; j < n; j++)
            {
                Unsafe.Add(ref rc, i * n + j) += Dot(ref ra, aRow, aCol, ref rb, i, j, n, k);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x2(ref float ra, int aRow, int aCol, ref float rb, ref float rc, int i, int j, int n, int k)
    {
        int width = Vector<float>.Count;
        nuint c0 = (nuint)(i * n + j), c1 = c0 + (nuint)n, c2 = c1 + (nuint)n, c3 = c2 + (nuint)n, w = (nuint)width;
        Vector<float> s00 = Vector.LoadUnsafe(ref rc, c0), s01 = Vector.LoadUnsafe(ref rc, c0 + w);
        Vector<float> s10 = Vector.LoadUnsafe(ref rc, c1), s11 = Vector.LoadUnsafe(ref rc, c1 + w);
        Vector<float> s20 = Vector.LoadUnsafe(ref rc, c2), s21 = Vector.LoadUnsafe(ref rc, c2 + w);
        Vector<float> s30 = Vector.LoadUnsafe(ref rc, c3), s31 = Vector.LoadUnsafe(ref rc, c3 + w);
        ref float a0 = ref Unsafe.Add(ref ra, i * aRow);
        for (int p = 0; p < k; p++)
        {
            nuint bp = (nuint)(p * n + j);
            Vector<float> b0 = Vector.LoadUnsafe(ref rb, bp), b1 = Vector.LoadUnsafe(ref rb, bp + w);
            ref float ap = ref Unsafe.Add(ref a0, p * aCol);
            var x0 = new Vector<float>(ap);
            var x1 = new Vector<float>(Unsafe.Add(ref ap, aRow));
            var x2 = new Vector<float>(Unsafe.Add(ref ap, 2 * aRow));
            var x3 = new Vector<float>(Unsafe.Add(ref ap, 3 * aRow));
            s00 = Vector.FusedMultiplyAdd(x0, b0, s00);
            s01 = Vector.FusedMultiplyAdd(x0, b1, s01);
            s10 = Vector.FusedMultiplyAdd(x1, b0, s10);
            s11 = Vector.FusedMultiplyAdd(x1, b1, s11);
            s20 = Vector.FusedMultiplyAdd(x2, b0, s20);
            s21 = Vector.FusedMultiplyAdd(x2, b1, s21);
            s30 = Vector.FusedMultiplyAdd(x3, b0, s30);
            s31 = Vector.FusedMultiplyAdd(x3, b1, s31);
        }
        s00.StoreUnsafe(ref rc, c0);
        s01.StoreUnsafe(ref rc, c0 + w);
        s10.StoreUnsafe(ref rc, c1);
        s11.StoreUnsafe(ref rc, c1 + w);
        s20.StoreUnsafe(ref rc, c2);
        s21.StoreUnsafe(ref rc, c2 + w);
        s30.StoreUnsafe(ref rc, c3);
        s31.StoreUnsafe(ref rc, c3 + w);
    }

    private static float Dot(ref float ra, int aRow, int aCol, ref float rb, int i, int j, int n, int k)
    {
        float sum = 0;
        for (int p = 0; p < k; p++)
        {
            sum += Unsafe.Add(ref ra, i * aRow + p * aCol) * Unsafe.Add(ref rb, p * n + j);
        }
        return sum;
    }
}
