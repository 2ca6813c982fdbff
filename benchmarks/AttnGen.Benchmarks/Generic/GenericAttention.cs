using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace AttnGen.Benchmarks.Generic;

/// <summary>
/// Multi-head scaled dot-product attention written once for runtime shapes: the same
/// FlashAttention-2 algorithm as the generated kernels (query blocks of <see cref="RowBlock"/> rows,
/// key blocks of four vectors, online softmax with a running max and sum), vectorised with the widest
/// hardware vector this machine has, but with every loop bound a runtime integer.
/// </summary>
/// <remarks>
/// Inputs are token-major <c>[batch, seqLen, heads * headDim]</c>. Per (sequence, head) the kernel packs
/// Q (pre-scaled), K transposed to <c>[headDim, seqLen]</c> and V into zero-padded per-thread scratch, so
/// any head width and sequence length work without tail loops in the hot code.
/// </remarks>
public sealed unsafe class GenericAttention
{
    /// <summary>Query rows of the register tile.</summary>
    public const int RowBlock = 4;

    /// <summary>Query rows that share one pass over the keys (their accumulators stay in L1).</summary>
    public const int QueryBlock = 64;

    private const int KeyVectors = 4;

    /// <summary>Creates the kernel for one shape, given at run time.</summary>
    public GenericAttention(int heads, int seqLen, int headDim, bool causal)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(seqLen, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 1);
        Heads = heads;
        SeqLen = seqLen;
        HeadDim = headDim;
        Causal = causal;
        Scale = 1f / MathF.Sqrt(headDim);
        _scratch = new ScratchPool(Layout.For(seqLen, headDim, VectorCount).Length);
    }

    private readonly ScratchPool _scratch;

    /// <summary>Floats per hardware vector the kernel uses.</summary>
    internal static int VectorCount => Vector512.IsHardwareAccelerated ? 16 : Vector256.IsHardwareAccelerated ? 8 : 4;

    /// <summary>Number of heads.</summary>
    public int Heads { get; }

    /// <summary>Sequence length (queries and keys).</summary>
    public int SeqLen { get; }

    /// <summary>Width of one head.</summary>
    public int HeadDim { get; }

    /// <summary>Whether query i sees only keys 0..i.</summary>
    public bool Causal { get; }

    /// <summary>Score scale, 1/sqrt(headDim).</summary>
    public float Scale { get; }

    /// <summary>Threads used over (sequence, head) pairs; 1 runs on the calling thread.</summary>
    public int MaxDegreeOfParallelism { get; set; } = 1;

    /// <summary>Name of the vector width the kernel runs with on this machine.</summary>
    public static string VectorWidth => $"Vector{VectorCount * 32}";

    /// <summary>Attention over a batch of token-major <c>[batch, SeqLen, Heads * HeadDim]</c> q, k, v.</summary>
    public void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, int batch)
    {
        int width = Heads * HeadDim;
        long length = (long)batch * SeqLen * width;
        if (batch < 1 || query.Length != length || key.Length != length || value.Length != length || output.Length != length)
        {
            throw new ArgumentException($"Expected batch >= 1 and spans of {length} floats.");
        }
        fixed (float* q = query, k = key, v = value, o = output)
        {
            Forward(q, k, v, width, o, width, batch, SeqLen * width, SeqLen * width);
        }
    }

    /// <summary>
    /// Attention with explicit row strides: q, k, v rows are <paramref name="inputStride"/> floats apart
    /// (head h at column h * HeadDim), output rows <paramref name="outputStride"/> apart; sequence b starts at
    /// <c>b * inputBatchStride</c> and <c>b * outputBatchStride</c>.
    /// </summary>
    /// <remarks>
    /// With <paramref name="lse"/> not null, row i of head h of sequence b also gets its log-sum-exp of the scaled
    /// scores at <c>lse[(b * Heads + h) * SeqLen + i]</c>, what <see cref="GenericAttentionBackward"/> needs.
    /// </remarks>
    internal void Forward(float* q, float* k, float* v, int inputStride, float* o, int outputStride, int batch, long inputBatchStride, long outputBatchStride, float* lse = null)
    {
        int items = batch * Heads;
        if (MaxDegreeOfParallelism <= 1 || items == 1)
        {
            float[] buffer = _scratch.Rent();
            float* scratch = ScratchPool.Aligned(buffer);
            for (int item = 0; item < items; item++)
            {
                RunItem(item, q, k, v, inputStride, o, outputStride, inputBatchStride, outputBatchStride, scratch, lse);
            }
            _scratch.Return(buffer);
        }
        else
        {
            ForwardParallel(q, k, v, inputStride, o, outputStride, items, inputBatchStride, outputBatchStride, lse);
        }
    }

    /// <summary>
    /// The work items over <see cref="MaxDegreeOfParallelism"/> threads, each worker with its own scratch. A
    /// method of its own so the closure is allocated only on this path.
    /// </summary>
    private void ForwardParallel(float* q, float* k, float* v, int inputStride, float* o, int outputStride, int items, long inputBatchStride, long outputBatchStride, float* lse)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = MaxDegreeOfParallelism };
        nint qa = (nint)q, ka = (nint)k, va = (nint)v, oa = (nint)o, la = (nint)lse;
        Parallel.For(0, items, options, _scratch.Rent, (item, _, buffer) =>
        {
            RunItem(item, (float*)qa, (float*)ka, (float*)va, inputStride, (float*)oa, outputStride, inputBatchStride, outputBatchStride, ScratchPool.Aligned(buffer), (float*)la);
            return buffer;
        }, _scratch.Return);
    }

    /// <summary>Work item <paramref name="item"/> = (sequence item / Heads, head item % Heads).</summary>
    private void RunItem(int item, float* q, float* k, float* v, int inputStride, float* o, int outputStride, long inputBatchStride, long outputBatchStride, float* scratch, float* lse)
    {
        int b = item / Heads;
        int h = item % Heads;
        long inOffset = b * inputBatchStride + (long)h * HeadDim;
        long outOffset = b * outputBatchStride + (long)h * HeadDim;
        float* rowLse = lse == null ? null : lse + (long)item * SeqLen;
        if (Vector512.IsHardwareAccelerated)
        {
            Head<Vector512<float>, Vector512Ops>(q + inOffset, k + inOffset, v + inOffset, inputStride, o + outOffset, outputStride, scratch, rowLse);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Head<Vector256<float>, Vector256Ops>(q + inOffset, k + inOffset, v + inOffset, inputStride, o + outOffset, outputStride, scratch, rowLse);
        }
        else
        {
            Head<Vector128<float>, Vector128Ops>(q + inOffset, k + inOffset, v + inOffset, inputStride, o + outOffset, outputStride, scratch, rowLse);
        }
    }

    /// <summary>
    /// One head of one sequence: pack, then for each block of <see cref="QueryBlock"/> query rows walk the
    /// key blocks once, running every 4-row tile of the query block against a key block while its K
    /// panel and V rows are in L1.
    /// </summary>
    private void Head<TVec, TOps>(float* q, float* k, float* v, int inputStride, float* o, int outputStride, float* scratch, float* lse)
        where TVec : unmanaged
        where TOps : IVectorOps<TVec>
    {
        int w = TOps.Count;
        int keyBlock = KeyVectors * w;
        Layout layout = Layout.For(SeqLen, HeadDim, w);
        int dp = layout.PaddedHeadDim, sq = layout.PaddedQueries;
        float* qp = scratch + layout.QueryOffset;
        float* kt = scratch + layout.KeyOffset;
        float* vp = scratch + layout.ValueOffset;
        float* acc = scratch + layout.AccumulatorOffset;
        float* p = scratch + layout.ProbabilityOffset;

        Pack(q, k, v, inputStride, qp, kt, vp, dp, keyBlock);

        Span<float> rowMax = stackalloc float[QueryBlock];
        Span<float> rowSum = stackalloc float[QueryBlock];
        Span<float> alpha = stackalloc float[RowBlock];
        for (int i0 = 0; i0 < sq; i0 += QueryBlock)
        {
            int rows = Math.Min(QueryBlock, sq - i0);
            // Keys this query block needs: all, or up to its last row on the causal diagonal.
            int keyEnd = Causal ? Math.Min(i0 + rows, SeqLen) : SeqLen;
            rowMax.Fill(float.NegativeInfinity);
            rowSum.Clear();
            new Span<float>(acc, rows * dp).Clear();

            for (int j0 = 0; j0 < keyEnd; j0 += keyBlock)
            {
                for (int r0 = 0; r0 < rows; r0 += RowBlock)
                {
                    int m0 = i0 + r0;
                    // Keys this 4-row tile sees, and the smallest last-visible key among its rows.
                    int tileKeyEnd = Causal ? Math.Min(m0 + RowBlock, SeqLen) : SeqLen;
                    if (j0 >= tileKeyEnd)
                    {
                        continue; // wholly above the causal diagonal
                    }
                    int firstLimit = Causal ? Math.Min(m0, SeqLen - 1) : SeqLen - 1;
                    bool mask = j0 + keyBlock - 1 > firstLimit;
                    ScoreTile<TVec, TOps>(qp + (long)m0 * dp, kt + (long)j0 * dp, dp, p, keyBlock);
                    SoftmaxTile<TVec, TOps>(p, keyBlock, m0, j0, mask, rowMax.Slice(r0, RowBlock), rowSum.Slice(r0, RowBlock), alpha);
                    int count = Math.Min(keyBlock, tileKeyEnd - j0);
                    AccumulateValues<TVec, TOps>(p, keyBlock, vp + (long)j0 * dp, dp, count, acc + (long)r0 * dp, alpha);
                }
            }

            // O[i, :] = acc[i, :] / rowSum[i] for the real rows.
            int realRows = Math.Min(rows, SeqLen - i0);
            for (int r = 0; r < realRows; r++)
            {
                if (lse != null)
                {
                    lse[i0 + r] = rowMax[r] + MathF.Log(rowSum[r]);
                }
                float inv = 1f / rowSum[r];
                float* src = acc + (long)r * dp;
                float* dst = o + (long)(i0 + r) * outputStride;
                int d = 0;
                if (HeadDim % w == 0)
                {
                    TVec scale = TOps.Broadcast(inv);
                    for (; d < HeadDim; d += w)
                    {
                        TOps.Store(TOps.Multiply(TOps.Load(src + d), scale), dst + d);
                    }
                }
                for (; d < HeadDim; d++)
                {
                    dst[d] = src[d] * inv;
                }
            }
        }
    }

    /// <summary>Where each packed array sits in a head's scratch (offsets in floats, each 64-byte aligned).</summary>
    private readonly record struct Layout(int PaddedHeadDim, int PaddedQueries, long QueryOffset, long KeyOffset, long ValueOffset, long AccumulatorOffset, long ProbabilityOffset, long Length)
    {
        public static Layout For(int seqLen, int headDim, int vectorWidth)
        {
            int keyBlock = KeyVectors * vectorWidth;
            int dp = ScratchPool.RoundUp(headDim, vectorWidth);
            int sp = ScratchPool.RoundUp(seqLen, keyBlock);
            int sq = ScratchPool.RoundUp(seqLen, RowBlock);
            long q = 0;
            long k = q + ScratchPool.RoundUp(sq * dp, 16);
            long v = k + ScratchPool.RoundUp(dp * sp, 16);
            long acc = v + ScratchPool.RoundUp(sp * dp, 16);
            long p = acc + ScratchPool.RoundUp(QueryBlock * dp, 16);
            return new Layout(dp, sq, q, k, v, acc, p, p + RowBlock * keyBlock);
        }
    }

    private static float* Align(float* pointer) => (float*)(((nint)pointer + 63) & ~(nint)63);

    /// <summary>
    /// Qp[S, Dp] = Q · scale; K transposed into panels of <paramref name="keyBlock"/> keys, each
    /// [Dp, keyBlock] and contiguous (no 4 KB strides between head-dimension rows); Vp[Sp, Dp] = V; zero padded.
    /// </summary>
    private void Pack(float* q, float* k, float* v, int inputStride, float* qp, float* kt, float* vp, int dp, int keyBlock)
    {
        int sp = ScratchPool.RoundUp(SeqLen, keyBlock);
        int sq = ScratchPool.RoundUp(SeqLen, RowBlock);
        new Span<float>(qp, sq * dp).Clear();
        new Span<float>(kt, dp * sp).Clear();
        new Span<float>(vp, sp * dp).Clear();
        for (int i = 0; i < SeqLen; i++)
        {
            float* qi = q + (long)i * inputStride;
            float* ki = k + (long)i * inputStride;
            var vi = new ReadOnlySpan<float>(v + (long)i * inputStride, HeadDim);
            float* qDst = qp + (long)i * dp;
            float* kDst = kt + (long)(i / keyBlock) * keyBlock * dp + i % keyBlock;
            for (int d = 0; d < HeadDim; d++)
            {
                qDst[d] = qi[d] * Scale;
                kDst[(long)d * keyBlock] = ki[d];
            }
            vi.CopyTo(new Span<float>(vp + (long)i * dp, HeadDim));
        }
    }

    /// <summary>
    /// P[4, keyBlock] = Qp[m0.., :] · Kt[:, j0..]: sixteen accumulators in registers over the head
    /// dimension, stored once at the end (a separate method, so nothing forces them to the stack).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void ScoreTile<TVec, TOps>(float* qBlock, float* kTile, int dp, float* p, int keyBlock)
        where TVec : unmanaged
        where TOps : IVectorOps<TVec>
    {
        int w = TOps.Count;
        TVec s00 = TOps.Zero, s01 = TOps.Zero, s02 = TOps.Zero, s03 = TOps.Zero;
        TVec s10 = TOps.Zero, s11 = TOps.Zero, s12 = TOps.Zero, s13 = TOps.Zero;
        TVec s20 = TOps.Zero, s21 = TOps.Zero, s22 = TOps.Zero, s23 = TOps.Zero;
        TVec s30 = TOps.Zero, s31 = TOps.Zero, s32 = TOps.Zero, s33 = TOps.Zero;
        float* q0 = qBlock, q1 = qBlock + dp, q2 = qBlock + 2 * dp, q3 = qBlock + 3 * dp;
        for (int d = 0; d < dp; d++)
        {
            float* kd = kTile + (long)d * keyBlock;
            TVec k0 = TOps.Load(kd), k1 = TOps.Load(kd + w), k2 = TOps.Load(kd + 2 * w), k3 = TOps.Load(kd + 3 * w);
            TVec b = TOps.Broadcast(q0[d]);
            s00 = TOps.MultiplyAdd(b, k0, s00); s01 = TOps.MultiplyAdd(b, k1, s01); s02 = TOps.MultiplyAdd(b, k2, s02); s03 = TOps.MultiplyAdd(b, k3, s03);
            b = TOps.Broadcast(q1[d]);
            s10 = TOps.MultiplyAdd(b, k0, s10); s11 = TOps.MultiplyAdd(b, k1, s11); s12 = TOps.MultiplyAdd(b, k2, s12); s13 = TOps.MultiplyAdd(b, k3, s13);
            b = TOps.Broadcast(q2[d]);
            s20 = TOps.MultiplyAdd(b, k0, s20); s21 = TOps.MultiplyAdd(b, k1, s21); s22 = TOps.MultiplyAdd(b, k2, s22); s23 = TOps.MultiplyAdd(b, k3, s23);
            b = TOps.Broadcast(q3[d]);
            s30 = TOps.MultiplyAdd(b, k0, s30); s31 = TOps.MultiplyAdd(b, k1, s31); s32 = TOps.MultiplyAdd(b, k2, s32); s33 = TOps.MultiplyAdd(b, k3, s33);
        }
        float* p0 = p, p1 = p + keyBlock, p2 = p + 2 * keyBlock, p3 = p + 3 * keyBlock;
        TOps.Store(s00, p0); TOps.Store(s01, p0 + w); TOps.Store(s02, p0 + 2 * w); TOps.Store(s03, p0 + 3 * w);
        TOps.Store(s10, p1); TOps.Store(s11, p1 + w); TOps.Store(s12, p1 + 2 * w); TOps.Store(s13, p1 + 3 * w);
        TOps.Store(s20, p2); TOps.Store(s21, p2 + w); TOps.Store(s22, p2 + 2 * w); TOps.Store(s23, p2 + 3 * w);
        TOps.Store(s30, p3); TOps.Store(s31, p3 + w); TOps.Store(s32, p3 + 2 * w); TOps.Store(s33, p3 + 3 * w);
    }

    /// <summary>
    /// The online-softmax step on a scored tile, in place: mask keys past each row's last visible one,
    /// new running max, the rescale factor <paramref name="alpha"/> per row, P = exp(S − max), running sum.
    /// </summary>
    private void SoftmaxTile<TVec, TOps>(float* p, int keyBlock, int m0, int j0, bool mask, Span<float> rowMax, Span<float> rowSum, Span<float> alpha)
        where TVec : unmanaged
        where TOps : IVectorOps<TVec>
    {
        int w = TOps.Count;
        for (int r = 0; r < RowBlock; r++)
        {
            float* pr = p + r * keyBlock;
            TVec s0 = TOps.Load(pr), s1 = TOps.Load(pr + w), s2 = TOps.Load(pr + 2 * w), s3 = TOps.Load(pr + 3 * w);
            if (mask)
            {
                // Keys past the row's last visible one (causal diagonal or the padded tail) score -inf.
                int last = Causal ? Math.Min(m0 + r, SeqLen - 1) : SeqLen - 1;
                s0 = TOps.MaskAfter(s0, j0, last);
                s1 = TOps.MaskAfter(s1, j0 + w, last);
                s2 = TOps.MaskAfter(s2, j0 + 2 * w, last);
                s3 = TOps.MaskAfter(s3, j0 + 3 * w, last);
            }
            float blockMax = TOps.HorizontalMax(TOps.Max(TOps.Max(s0, s1), TOps.Max(s2, s3)));
            float oldMax = rowMax[r];
            float newMax = Math.Max(oldMax, blockMax);
            TVec m = TOps.Broadcast(newMax);
            TOps.Store(TOps.Subtract(s0, m), pr);
            TOps.Store(TOps.Subtract(s1, m), pr + w);
            TOps.Store(TOps.Subtract(s2, m), pr + 2 * w);
            TOps.Store(TOps.Subtract(s3, m), pr + 3 * w);
            TVec sum = TOps.Zero;
            for (int c = 0; c < keyBlock; c += w)
            {
                TVec e = TOps.Exp(TOps.Load(pr + c));
                TOps.Store(e, pr + c);
                sum = TOps.Add(sum, e);
            }
            float scale = MathF.Exp(oldMax - newMax); // 0 on the first block (oldMax = -inf)
            rowSum[r] = rowSum[r] * scale + TOps.HorizontalSum(sum);
            rowMax[r] = newMax;
            alpha[r] = scale;
        }
    }

    /// <summary>acc[4, Dp] = acc · alpha + P[4, 0..count) · Vp[j0.., :], two vectors of the head width at a time.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AccumulateValues<TVec, TOps>(float* p, int keyBlock, float* vTile, int dp, int count, float* acc, Span<float> alpha)
        where TVec : unmanaged
        where TOps : IVectorOps<TVec>
    {
        int w = TOps.Count;
        TVec a0 = TOps.Broadcast(alpha[0]), a1 = TOps.Broadcast(alpha[1]), a2 = TOps.Broadcast(alpha[2]), a3 = TOps.Broadcast(alpha[3]);
        float* p0 = p, p1 = p + keyBlock, p2 = p + 2 * keyBlock, p3 = p + 3 * keyBlock;
        float* c0 = acc, c1 = acc + dp, c2 = acc + 2 * dp, c3 = acc + 3 * dp;
        int d = 0;
        for (; d + 2 * w <= dp; d += 2 * w)
        {
            TVec o00 = TOps.Multiply(TOps.Load(c0 + d), a0), o01 = TOps.Multiply(TOps.Load(c0 + d + w), a0);
            TVec o10 = TOps.Multiply(TOps.Load(c1 + d), a1), o11 = TOps.Multiply(TOps.Load(c1 + d + w), a1);
            TVec o20 = TOps.Multiply(TOps.Load(c2 + d), a2), o21 = TOps.Multiply(TOps.Load(c2 + d + w), a2);
            TVec o30 = TOps.Multiply(TOps.Load(c3 + d), a3), o31 = TOps.Multiply(TOps.Load(c3 + d + w), a3);
            for (int c = 0; c < count; c++)
            {
                float* vc = vTile + (long)c * dp + d;
                TVec v0 = TOps.Load(vc), v1 = TOps.Load(vc + w);
                TVec b = TOps.Broadcast(p0[c]);
                o00 = TOps.MultiplyAdd(b, v0, o00); o01 = TOps.MultiplyAdd(b, v1, o01);
                b = TOps.Broadcast(p1[c]);
                o10 = TOps.MultiplyAdd(b, v0, o10); o11 = TOps.MultiplyAdd(b, v1, o11);
                b = TOps.Broadcast(p2[c]);
                o20 = TOps.MultiplyAdd(b, v0, o20); o21 = TOps.MultiplyAdd(b, v1, o21);
                b = TOps.Broadcast(p3[c]);
                o30 = TOps.MultiplyAdd(b, v0, o30); o31 = TOps.MultiplyAdd(b, v1, o31);
            }
            TOps.Store(o00, c0 + d); TOps.Store(o01, c0 + d + w);
            TOps.Store(o10, c1 + d); TOps.Store(o11, c1 + d + w);
            TOps.Store(o20, c2 + d); TOps.Store(o21, c2 + d + w);
            TOps.Store(o30, c3 + d); TOps.Store(o31, c3 + d + w);
        }
        for (; d < dp; d += w)
        {
            TVec o0 = TOps.Multiply(TOps.Load(c0 + d), a0), o1 = TOps.Multiply(TOps.Load(c1 + d), a1);
            TVec o2 = TOps.Multiply(TOps.Load(c2 + d), a2), o3 = TOps.Multiply(TOps.Load(c3 + d), a3);
            for (int c = 0; c < count; c++)
            {
                TVec v0 = TOps.Load(vTile + (long)c * dp + d);
                o0 = TOps.MultiplyAdd(TOps.Broadcast(p0[c]), v0, o0);
                o1 = TOps.MultiplyAdd(TOps.Broadcast(p1[c]), v0, o1);
                o2 = TOps.MultiplyAdd(TOps.Broadcast(p2[c]), v0, o2);
                o3 = TOps.MultiplyAdd(TOps.Broadcast(p3[c]), v0, o3);
            }
            TOps.Store(o0, c0 + d); TOps.Store(o1, c1 + d);
            TOps.Store(o2, c2 + d); TOps.Store(o3, c3 + d);
        }
    }
}
