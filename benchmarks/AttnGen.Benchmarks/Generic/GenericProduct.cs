using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AttnGen.Benchmarks.Generic;

/// <summary>
/// <c>C[rows, columns] += Σ_t A(r, t) · B[t, 0..columns)</c> with runtime shapes, the broadcast-FMA product every
/// generic backward kernel uses: <c>A(r, t) = a[r · aRowStride + t · aDepthStride]</c> is broadcast (so A may be
/// read transposed in place), row t of B starts at <c>b + t · bStride</c>, rows of C are <c>cStride</c> apart.
/// Register tiles of 4 rows by 4 vectors, then 4 rows by 1 vector, then scalar columns and rows (the generated
/// kernels have a constant tile per path; this is one tile for every width, as in <see cref="GenericGemm"/>).
/// </summary>
internal static unsafe class GenericProduct
{
    public static void MultiplyAdd(float* a, int aRowStride, int aDepthStride, int rows, int depth, float* b, int bStride, float* c, int cStride, int columns)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            MultiplyAdd<Vector512<float>, Vector512Ops>(a, aRowStride, aDepthStride, rows, depth, b, bStride, c, cStride, columns);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            MultiplyAdd<Vector256<float>, Vector256Ops>(a, aRowStride, aDepthStride, rows, depth, b, bStride, c, cStride, columns);
        }
        else
        {
            MultiplyAdd<Vector128<float>, Vector128Ops>(a, aRowStride, aDepthStride, rows, depth, b, bStride, c, cStride, columns);
        }
    }

    private static void MultiplyAdd<TVec, TOps>(float* a, int aRowStride, int aDepthStride, int rows, int depth, float* b, int bStride, float* c, int cStride, int columns)
        where TVec : unmanaged
        where TOps : IVectorOps<TVec>
    {
        int w = TOps.Count, fullRows = rows / 4 * 4;
        // Column panels outermost, so one panel of B serves every row tile while it is in cache.
        int j = 0;
        for (; j + 4 * w <= columns; j += 4 * w)
        {
            for (int r = 0; r < fullRows; r += 4)
            {
                Tile4x4<TVec, TOps>(a + (long)r * aRowStride, aRowStride, aDepthStride, depth, b + j, bStride, c + (long)r * cStride + j, cStride);
            }
        }
        for (; j + w <= columns; j += w)
        {
            for (int r = 0; r < fullRows; r += 4)
            {
                Tile4x1<TVec, TOps>(a + (long)r * aRowStride, aRowStride, aDepthStride, depth, b + j, bStride, c + (long)r * cStride + j, cStride);
            }
        }
        for (int r = 0; r < rows; r++)
        {
            ScalarColumns(a + (long)r * aRowStride, aDepthStride, depth, b, bStride, c + (long)r * cStride, r < fullRows ? j : 0, columns);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Tile4x4<TVec, TOps>(float* a, int aRowStride, int aDepthStride, int depth, float* b, int bStride, float* c, int cStride)
        where TVec : unmanaged
        where TOps : IVectorOps<TVec>
    {
        int w = TOps.Count;
        float* c0 = c, c1 = c + cStride, c2 = c + 2 * cStride, c3 = c + 3 * cStride;
        TVec x00 = TOps.Load(c0), x01 = TOps.Load(c0 + w), x02 = TOps.Load(c0 + 2 * w), x03 = TOps.Load(c0 + 3 * w);
        TVec x10 = TOps.Load(c1), x11 = TOps.Load(c1 + w), x12 = TOps.Load(c1 + 2 * w), x13 = TOps.Load(c1 + 3 * w);
        TVec x20 = TOps.Load(c2), x21 = TOps.Load(c2 + w), x22 = TOps.Load(c2 + 2 * w), x23 = TOps.Load(c2 + 3 * w);
        TVec x30 = TOps.Load(c3), x31 = TOps.Load(c3 + w), x32 = TOps.Load(c3 + 2 * w), x33 = TOps.Load(c3 + 3 * w);
        for (int t = 0; t < depth; t++)
        {
            float* at = a + (long)t * aDepthStride;
            float* bt = b + (long)t * bStride;
            TVec b0 = TOps.Load(bt), b1 = TOps.Load(bt + w), b2 = TOps.Load(bt + 2 * w), b3 = TOps.Load(bt + 3 * w);
            TVec s = TOps.Broadcast(at[0]);
            x00 = TOps.MultiplyAdd(s, b0, x00); x01 = TOps.MultiplyAdd(s, b1, x01); x02 = TOps.MultiplyAdd(s, b2, x02); x03 = TOps.MultiplyAdd(s, b3, x03);
            s = TOps.Broadcast(at[aRowStride]);
            x10 = TOps.MultiplyAdd(s, b0, x10); x11 = TOps.MultiplyAdd(s, b1, x11); x12 = TOps.MultiplyAdd(s, b2, x12); x13 = TOps.MultiplyAdd(s, b3, x13);
            s = TOps.Broadcast(at[2 * aRowStride]);
            x20 = TOps.MultiplyAdd(s, b0, x20); x21 = TOps.MultiplyAdd(s, b1, x21); x22 = TOps.MultiplyAdd(s, b2, x22); x23 = TOps.MultiplyAdd(s, b3, x23);
            s = TOps.Broadcast(at[3 * aRowStride]);
            x30 = TOps.MultiplyAdd(s, b0, x30); x31 = TOps.MultiplyAdd(s, b1, x31); x32 = TOps.MultiplyAdd(s, b2, x32); x33 = TOps.MultiplyAdd(s, b3, x33);
        }
        TOps.Store(x00, c0); TOps.Store(x01, c0 + w); TOps.Store(x02, c0 + 2 * w); TOps.Store(x03, c0 + 3 * w);
        TOps.Store(x10, c1); TOps.Store(x11, c1 + w); TOps.Store(x12, c1 + 2 * w); TOps.Store(x13, c1 + 3 * w);
        TOps.Store(x20, c2); TOps.Store(x21, c2 + w); TOps.Store(x22, c2 + 2 * w); TOps.Store(x23, c2 + 3 * w);
        TOps.Store(x30, c3); TOps.Store(x31, c3 + w); TOps.Store(x32, c3 + 2 * w); TOps.Store(x33, c3 + 3 * w);
    }

    private static void Tile4x1<TVec, TOps>(float* a, int aRowStride, int aDepthStride, int depth, float* b, int bStride, float* c, int cStride)
        where TVec : unmanaged
        where TOps : IVectorOps<TVec>
    {
        float* c0 = c, c1 = c + cStride, c2 = c + 2 * cStride, c3 = c + 3 * cStride;
        TVec x0 = TOps.Load(c0), x1 = TOps.Load(c1), x2 = TOps.Load(c2), x3 = TOps.Load(c3);
        for (int t = 0; t < depth; t++)
        {
            float* at = a + (long)t * aDepthStride;
            TVec bt = TOps.Load(b + (long)t * bStride);
            x0 = TOps.MultiplyAdd(TOps.Broadcast(at[0]), bt, x0);
            x1 = TOps.MultiplyAdd(TOps.Broadcast(at[aRowStride]), bt, x1);
            x2 = TOps.MultiplyAdd(TOps.Broadcast(at[2 * aRowStride]), bt, x2);
            x3 = TOps.MultiplyAdd(TOps.Broadcast(at[3 * aRowStride]), bt, x3);
        }
        TOps.Store(x0, c0); TOps.Store(x1, c1); TOps.Store(x2, c2); TOps.Store(x3, c3);
    }

    /// <summary>One row of C, columns <paramref name="from"/> to <paramref name="to"/>, in scalar arithmetic.</summary>
    private static void ScalarColumns(float* a, int aDepthStride, int depth, float* b, int bStride, float* c, int from, int to)
    {
        for (int j = from; j < to; j++)
        {
            float sum = c[j];
            for (int t = 0; t < depth; t++)
            {
                sum += a[(long)t * aDepthStride] * b[(long)t * bStride + j];
            }
            c[j] = sum;
        }
    }
}
