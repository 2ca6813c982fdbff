using System.Runtime.Intrinsics;

namespace AttnGen.Benchmarks.Generic;

/// <summary>
/// A linear layer's weights <c>W[outFeatures, inFeatures]</c> (PyTorch layout) packed once as
/// <c>Wᵀ[inFeatures, PaddedOut]</c>, with the output width padded to whole register panels, plus the bias
/// padded the same way.
/// </summary>
public sealed unsafe class PackedLinear
{
    private readonly float[] _weights;
    private readonly float[] _bias;

    /// <summary>Packs <paramref name="weight"/> [outFeatures, inFeatures] and <paramref name="bias"/> (empty = no bias).</summary>
    public PackedLinear(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int outFeatures, int inFeatures)
    {
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        PaddedOut = ScratchPool.RoundUp(outFeatures, GenericGemm.PanelWidth);
        _weights = GC.AllocateArray<float>(inFeatures * PaddedOut + 16, pinned: true);
        _bias = GC.AllocateArray<float>(PaddedOut + 16, pinned: true);
        Repack(weight, bias);
    }

    /// <summary>Packs new values of the same shape in place (after an optimizer step, say).</summary>
    public void Repack(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias)
    {
        if (weight.Length != OutFeatures * InFeatures || (!bias.IsEmpty && bias.Length != OutFeatures))
        {
            throw new ArgumentException("Weight or bias length does not match the layer's shape.");
        }
        for (int n = 0; n < OutFeatures; n++)
        {
            for (int k = 0; k < InFeatures; k++)
            {
                _weights[k * PaddedOut + n] = weight[n * InFeatures + k];
            }
            _bias[n] = bias.IsEmpty ? 0f : bias[n];
        }
    }

    /// <summary>Number of outputs (rows of the PyTorch weight).</summary>
    public int OutFeatures { get; }

    /// <summary>Number of inputs (columns of the PyTorch weight).</summary>
    public int InFeatures { get; }

    /// <summary>Output width rounded up to whole panels: the row stride of the packed weights.</summary>
    public int PaddedOut { get; }

    internal float* Weights => (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _weights[0]);

    internal float* Bias => (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _bias[0]);
}

/// <summary>
/// <c>C[m, 0..PaddedOut) = A[m, K] · Wᵀ + b</c> with runtime shapes: 4-row by 4-vector register tiles,
/// the reduction split into blocks of <see cref="KeyBlock"/> so a weight panel stays in L1.
/// </summary>
public static unsafe class GenericGemm
{
    private const int KeyBlock = 128;

    /// <summary>Columns per register panel: four vectors of the widest hardware width.</summary>
    public static int PanelWidth => 4 * (Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 4);

    /// <summary>
    /// Writes <paramref name="rows"/> rows of <c>linear.PaddedOut</c> floats to <paramref name="c"/>
    /// (row stride <paramref name="ldc"/> >= PaddedOut); <paramref name="a"/> rows are <paramref name="lda"/> apart.
    /// </summary>
    public static void Run(float* a, int lda, int rows, PackedLinear linear, float* c, int ldc)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            Run<Vector512<float>, Vector512Ops>(a, lda, rows, linear, c, ldc);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Run<Vector256<float>, Vector256Ops>(a, lda, rows, linear, c, ldc);
        }
        else
        {
            Run<Vector128<float>, Vector128Ops>(a, lda, rows, linear, c, ldc);
        }
    }

    private static void Run<TVec, TOps>(float* a, int lda, int rows, PackedLinear linear, float* c, int ldc)
        where TVec : unmanaged
        where TOps : IVectorOps<TVec>
    {
        int panel = 4 * TOps.Count;
        int ldb = linear.PaddedOut;
        int depth = linear.InFeatures;
        for (int k0 = 0; k0 < depth; k0 += KeyBlock)
        {
            int kc = Math.Min(KeyBlock, depth - k0);
            for (int n0 = 0; n0 < ldb; n0 += panel)
            {
                float* b = linear.Weights + (long)k0 * ldb + n0;
                // The first reduction block starts from the bias, later ones from the partial sums in C.
                float* start = k0 == 0 ? linear.Bias + n0 : null;
                int m = 0;
                for (; m + 4 <= rows; m += 4)
                {
                    Tile4<TVec, TOps>(a + (long)m * lda + k0, lda, b, ldb, kc, c + (long)m * ldc + n0, ldc, start);
                }
                for (; m < rows; m++)
                {
                    Tile1<TVec, TOps>(a + (long)m * lda + k0, b, ldb, kc, c + (long)m * ldc + n0, start);
                }
            }
        }
    }

    private static void Tile4<TVec, TOps>(float* a, int lda, float* b, int ldb, int kc, float* c, int ldc, float* bias)
        where TVec : unmanaged
        where TOps : IVectorOps<TVec>
    {
        int w = TOps.Count;
        float* c0 = c, c1 = c + ldc, c2 = c + 2 * ldc, c3 = c + 3 * ldc;
        TVec x00, x01, x02, x03, x10, x11, x12, x13, x20, x21, x22, x23, x30, x31, x32, x33;
        if (bias != null)
        {
            x00 = x10 = x20 = x30 = TOps.Load(bias);
            x01 = x11 = x21 = x31 = TOps.Load(bias + w);
            x02 = x12 = x22 = x32 = TOps.Load(bias + 2 * w);
            x03 = x13 = x23 = x33 = TOps.Load(bias + 3 * w);
        }
        else
        {
            x00 = TOps.Load(c0); x01 = TOps.Load(c0 + w); x02 = TOps.Load(c0 + 2 * w); x03 = TOps.Load(c0 + 3 * w);
            x10 = TOps.Load(c1); x11 = TOps.Load(c1 + w); x12 = TOps.Load(c1 + 2 * w); x13 = TOps.Load(c1 + 3 * w);
            x20 = TOps.Load(c2); x21 = TOps.Load(c2 + w); x22 = TOps.Load(c2 + 2 * w); x23 = TOps.Load(c2 + 3 * w);
            x30 = TOps.Load(c3); x31 = TOps.Load(c3 + w); x32 = TOps.Load(c3 + 2 * w); x33 = TOps.Load(c3 + 3 * w);
        }
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda;
        for (int k = 0; k < kc; k++)
        {
            float* bk = b + (long)k * ldb;
            TVec b0 = TOps.Load(bk), b1 = TOps.Load(bk + w), b2 = TOps.Load(bk + 2 * w), b3 = TOps.Load(bk + 3 * w);
            TVec s = TOps.Broadcast(a0[k]);
            x00 = TOps.MultiplyAdd(s, b0, x00); x01 = TOps.MultiplyAdd(s, b1, x01); x02 = TOps.MultiplyAdd(s, b2, x02); x03 = TOps.MultiplyAdd(s, b3, x03);
            s = TOps.Broadcast(a1[k]);
            x10 = TOps.MultiplyAdd(s, b0, x10); x11 = TOps.MultiplyAdd(s, b1, x11); x12 = TOps.MultiplyAdd(s, b2, x12); x13 = TOps.MultiplyAdd(s, b3, x13);
            s = TOps.Broadcast(a2[k]);
            x20 = TOps.MultiplyAdd(s, b0, x20); x21 = TOps.MultiplyAdd(s, b1, x21); x22 = TOps.MultiplyAdd(s, b2, x22); x23 = TOps.MultiplyAdd(s, b3, x23);
            s = TOps.Broadcast(a3[k]);
            x30 = TOps.MultiplyAdd(s, b0, x30); x31 = TOps.MultiplyAdd(s, b1, x31); x32 = TOps.MultiplyAdd(s, b2, x32); x33 = TOps.MultiplyAdd(s, b3, x33);
        }
        TOps.Store(x00, c0); TOps.Store(x01, c0 + w); TOps.Store(x02, c0 + 2 * w); TOps.Store(x03, c0 + 3 * w);
        TOps.Store(x10, c1); TOps.Store(x11, c1 + w); TOps.Store(x12, c1 + 2 * w); TOps.Store(x13, c1 + 3 * w);
        TOps.Store(x20, c2); TOps.Store(x21, c2 + w); TOps.Store(x22, c2 + 2 * w); TOps.Store(x23, c2 + 3 * w);
        TOps.Store(x30, c3); TOps.Store(x31, c3 + w); TOps.Store(x32, c3 + 2 * w); TOps.Store(x33, c3 + 3 * w);
    }

    private static void Tile1<TVec, TOps>(float* a, float* b, int ldb, int kc, float* c, float* bias)
        where TVec : unmanaged
        where TOps : IVectorOps<TVec>
    {
        int w = TOps.Count;
        float* start = bias != null ? bias : c;
        TVec x0 = TOps.Load(start), x1 = TOps.Load(start + w), x2 = TOps.Load(start + 2 * w), x3 = TOps.Load(start + 3 * w);
        for (int k = 0; k < kc; k++)
        {
            float* bk = b + (long)k * ldb;
            TVec s = TOps.Broadcast(a[k]);
            x0 = TOps.MultiplyAdd(s, TOps.Load(bk), x0);
            x1 = TOps.MultiplyAdd(s, TOps.Load(bk + w), x1);
            x2 = TOps.MultiplyAdd(s, TOps.Load(bk + 2 * w), x2);
            x3 = TOps.MultiplyAdd(s, TOps.Load(bk + 3 * w), x3);
        }
        TOps.Store(x0, c); TOps.Store(x1, c + w); TOps.Store(x2, c + 2 * w); TOps.Store(x3, c + 3 * w);
    }
}
