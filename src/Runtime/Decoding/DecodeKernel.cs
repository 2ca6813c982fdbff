using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace AttnGen;

/// <summary>
/// The per-unit work of <see cref="DecodeAttention"/>: the query rows of one key/value head group of one sequence
/// (<c>R = G · tokens</c> rows, row <c>r = t · G + g</c> is token <c>t</c> of query head <c>kvHead · G + g</c>) against
/// one range of key blocks, with an online softmax. Written once against <see cref="IVectorOps{TVec}"/>, so
/// each path (<see cref="Vector512Ops"/>, <see cref="Vector256Ops"/>, <see cref="Vector128Ops"/>, <see cref="ScalarOps"/>) is its own specialised code.
/// </summary>
internal static unsafe class DecodeKernel
{
    /// <summary>Scratch floats one worker needs for <paramref name="rows"/> query rows of <paramref name="headDim"/>.</summary>
    public static long ScratchFloats(int rows, int headDim)
        => 2 * Pad((long)rows * headDim) + Pad((long)rows * KvCache.BlockSize) + 3 * Pad(rows) + Pad((long)PrefillKernel.TileRows * headDim);

    /// <summary>
    /// One unit, reading the scaled query rows <c>[R][headDim]</c> from <see cref="Scratch.Queries"/> and leaving each
    /// row's running max, sum and unnormalised output in <paramref name="scratch"/>. Row <c>r</c> sees positions below <c>limit(r) = past + r / groups + 1</c>,
    /// clipped to the unit's end; the unit covers key blocks <paramref name="blockBegin"/> .. <paramref name="blockEnd"/> - 1.
    /// </summary>
    public static void Run<TOps, TVec>(float* keys, float* values, int headDim, int groups, int tokens, int past,
        int blockBegin, int blockEnd, Scratch scratch)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        const int B = KvCache.BlockSize;
        int rows = groups * tokens;
        float* o = scratch.Output, s = scratch.Scores, m = scratch.Max, l = scratch.Sum, alpha = scratch.Alpha;
        new Span<float>(o, rows * headDim).Clear();
        new Span<float>(l, rows).Clear();
        new Span<float>(m, rows).Fill(float.NegativeInfinity);
        int end = Math.Min(blockEnd * B, past + tokens); // first position past the unit for the last row
        for (int block = blockBegin; block < blockEnd; block++)
        {
            int p0 = block * B;
            // Token t sees positions < past + t + 1: the rows that see any position of this block form a suffix.
            int firstToken = Math.Max(0, p0 - past);
            if (firstToken >= tokens)
            {
                break;
            }
            int first = firstToken * groups;
            float* kBlock = keys + (long)block * headDim * B;
            if (block + PrefetchBlocks < blockEnd)
            {
                Prefetch(keys + (long)(block + PrefetchBlocks) * headDim * B, values + (long)(block + PrefetchBlocks) * B * headDim, headDim);
            }
            Scores<TOps, TVec>(scratch.Queries, kBlock, s, headDim, first, rows);

            // Mask, online softmax: m' = max(m, max_j s_j), alpha = exp(m - m'), P_j = exp(s_j - m'), l = alpha · l + Σ P_j.
            for (int r = first; r < rows; r++)
            {
                int cut = Math.Min(past + r / groups + 1, end) - p0; // lanes >= cut are not visible
                float* row = s + r * B;
                TVec top = TOps.Create(float.NegativeInfinity);
                for (int v = 0; v < B; v += TOps.Width)
                {
                    TVec x = TOps.Load(row + v);
                    if (cut < B)
                    {
                        x = TOps.Select(TOps.LessThan(TOps.Indices, TOps.Create(cut - v)), x, TOps.Create(float.NegativeInfinity));
                        TOps.Store(x, row + v);
                    }
                    top = TOps.Max(top, x);
                }
                float blockMax = TOps.HorizontalMax(top);
                float previous = m[r];
                float next = Math.Max(previous, blockMax);
                if (float.IsNegativeInfinity(next))
                {
                    // Nothing finite seen yet (only possible with -inf scores): keep the state, drop the block.
                    alpha[r] = 1f;
                    new Span<float>(row, B).Clear();
                    continue;
                }
                // 1 while the maximum holds (most blocks of a long context), 0 on the first block, else the vector exponential (no call).
                alpha[r] = previous == next ? 1f
                    : float.IsNegativeInfinity(previous) ? 0f
                    : TOps.First(VectorMath<TOps, TVec>.ExpNonPositive(TOps.Create(previous - next)));
                TVec shift = TOps.Create(next);
                TVec sum = TOps.Create(0f);
                for (int v = 0; v < B; v += TOps.Width)
                {
                    TVec p = VectorMath<TOps, TVec>.ExpNonPositive(TOps.Subtract(TOps.Load(row + v), shift));
                    TOps.Store(p, row + v);
                    sum = TOps.Add(sum, p);
                }
                l[r] = alpha[r] * l[r] + TOps.HorizontalSum(sum);
                m[r] = next;
            }

            // O[r] = alpha_r · O[r] + Σ_j P[r][j] · V[p0 + j], over the positions any active row sees (never past the unit).
            int count = Math.Min(B, end - p0);
            WeightedSum<TOps, TVec>(s, values + (long)p0 * headDim, o, alpha, headDim, first, rows, count);
        }
    }

    /// <summary>
    /// Key blocks ahead of the one being scored whose keys and values are requested from memory (x86 only): a step
    /// streams the context once, alternating one key block and one value block (each HeadDim · 64 bytes), and the
    /// hardware prefetchers restart at every 4 KiB page, so without a request ahead the two streams wait on memory
    /// at each block. Four blocks ahead into L1 measured slightly faster than two ahead into L2 (8 heads of 64, batch 8:
    /// 0.82-0.85x against 0.86-0.93x ORT's time in one sitting).
    /// </summary>
    internal const int PrefetchBlocks = 4;

    /// <summary>Requests the cache lines of one key block and its value rows (each <c>16 · headDim</c> floats) into the caches.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(float* keyBlock, float* valueRows, int headDim)
    {
        if (Sse.IsSupported)
        {
            // 16 floats per 64-byte line: a block of 16 · headDim floats is headDim lines.
            for (int line = 0; line < headDim; line++)
            {
                Sse.Prefetch0(keyBlock + line * KvCache.BlockSize);
                Sse.Prefetch0(valueRows + line * KvCache.BlockSize);
            }
        }
    }

    /// <summary>S[r][0..15] = Σ_d Q[r][d] · K[d][0..15] for rows first .. rows-1, four rows at a time, then the rest one at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scores<TOps, TVec>(float* q, float* kBlock, float* s, int headDim, int first, int rows)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        const int B = KvCache.BlockSize;
        int r = first;
        for (; r + 4 <= rows; r += 4)
        {
            int r1 = r + 1, r2 = r + 2, r3 = r + 3;
            float* q0 = q + (long)r * headDim, q1 = q + (long)r1 * headDim, q2 = q + (long)r2 * headDim, q3 = q + (long)r3 * headDim;
            int v = 0;
            for (; v + 2 * TOps.Width <= B; v += 2 * TOps.Width)
            {
                // A 4 x 2 register tile: per d two key vectors and four broadcasts feed eight multiply-adds.
                TVec a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
                float* k = kBlock + v, k1 = kBlock + v + TOps.Width;
                for (int d = 0; d < headDim; d++)
                {
                    TVec x = TOps.Load(k + d * B), y = TOps.Load(k1 + d * B);
                    TVec w = TOps.Create(q0[d]);
                    a0 = TOps.MultiplyAdd(w, x, a0);
                    b0 = TOps.MultiplyAdd(w, y, b0);
                    w = TOps.Create(q1[d]);
                    a1 = TOps.MultiplyAdd(w, x, a1);
                    b1 = TOps.MultiplyAdd(w, y, b1);
                    w = TOps.Create(q2[d]);
                    a2 = TOps.MultiplyAdd(w, x, a2);
                    b2 = TOps.MultiplyAdd(w, y, b2);
                    w = TOps.Create(q3[d]);
                    a3 = TOps.MultiplyAdd(w, x, a3);
                    b3 = TOps.MultiplyAdd(w, y, b3);
                }
                TOps.Store(a0, s + r * B + v);
                TOps.Store(b0, s + r * B + v + TOps.Width);
                TOps.Store(a1, s + r1 * B + v);
                TOps.Store(b1, s + r1 * B + v + TOps.Width);
                TOps.Store(a2, s + r2 * B + v);
                TOps.Store(b2, s + r2 * B + v + TOps.Width);
                TOps.Store(a3, s + r3 * B + v);
                TOps.Store(b3, s + r3 * B + v + TOps.Width);
            }
            for (; v < B; v += TOps.Width)
            {
                // One vector (the 512-bit path's block): two accumulators per row (even and odd d), eight chains.
                TVec a0 = TOps.Create(0f), a1 = TOps.Create(0f), a2 = TOps.Create(0f), a3 = TOps.Create(0f);
                TVec b0 = TOps.Create(0f), b1 = TOps.Create(0f), b2 = TOps.Create(0f), b3 = TOps.Create(0f);
                float* k = kBlock + v;
                int d = 0;
                for (; d + 1 < headDim; d += 2)
                {
                    TVec k0 = TOps.Load(k + d * B), k1 = TOps.Load(k + (d + 1) * B);
                    a0 = TOps.MultiplyAdd(TOps.Create(q0[d]), k0, a0);
                    a1 = TOps.MultiplyAdd(TOps.Create(q1[d]), k0, a1);
                    a2 = TOps.MultiplyAdd(TOps.Create(q2[d]), k0, a2);
                    a3 = TOps.MultiplyAdd(TOps.Create(q3[d]), k0, a3);
                    b0 = TOps.MultiplyAdd(TOps.Create(q0[d + 1]), k1, b0);
                    b1 = TOps.MultiplyAdd(TOps.Create(q1[d + 1]), k1, b1);
                    b2 = TOps.MultiplyAdd(TOps.Create(q2[d + 1]), k1, b2);
                    b3 = TOps.MultiplyAdd(TOps.Create(q3[d + 1]), k1, b3);
                }
                if (d < headDim)
                {
                    TVec k0 = TOps.Load(k + d * B);
                    a0 = TOps.MultiplyAdd(TOps.Create(q0[d]), k0, a0);
                    a1 = TOps.MultiplyAdd(TOps.Create(q1[d]), k0, a1);
                    a2 = TOps.MultiplyAdd(TOps.Create(q2[d]), k0, a2);
                    a3 = TOps.MultiplyAdd(TOps.Create(q3[d]), k0, a3);
                }
                TOps.Store(TOps.Add(a0, b0), s + r * B + v);
                TOps.Store(TOps.Add(a1, b1), s + r1 * B + v);
                TOps.Store(TOps.Add(a2, b2), s + r2 * B + v);
                TOps.Store(TOps.Add(a3, b3), s + r3 * B + v);
            }
        }
        // The last rows one at a time (G · tokens = 1 is plain multi-head decoding): two column vectors at a time
        // with four chains over d each, so eight multiply-adds are in flight (two ports x four cycles of latency).
        for (; r < rows; r++)
        {
            float* q0 = q + (long)r * headDim;
            int v = 0;
            for (; v + 2 * TOps.Width <= B; v += 2 * TOps.Width)
            {
                TVec a = TOps.Create(0f), b = a, c = a, e = a, a1 = a, b1 = a, c1 = a, e1 = a;
                float* k = kBlock + v, k1 = kBlock + v + TOps.Width;
                int d = 0;
                for (; d + 3 < headDim; d += 4)
                {
                    TVec x0 = TOps.Create(q0[d]), x1 = TOps.Create(q0[d + 1]), x2 = TOps.Create(q0[d + 2]), x3 = TOps.Create(q0[d + 3]);
                    a = TOps.MultiplyAdd(x0, TOps.Load(k + d * B), a);
                    a1 = TOps.MultiplyAdd(x0, TOps.Load(k1 + d * B), a1);
                    b = TOps.MultiplyAdd(x1, TOps.Load(k + (d + 1) * B), b);
                    b1 = TOps.MultiplyAdd(x1, TOps.Load(k1 + (d + 1) * B), b1);
                    c = TOps.MultiplyAdd(x2, TOps.Load(k + (d + 2) * B), c);
                    c1 = TOps.MultiplyAdd(x2, TOps.Load(k1 + (d + 2) * B), c1);
                    e = TOps.MultiplyAdd(x3, TOps.Load(k + (d + 3) * B), e);
                    e1 = TOps.MultiplyAdd(x3, TOps.Load(k1 + (d + 3) * B), e1);
                }
                for (; d < headDim; d++)
                {
                    TVec x0 = TOps.Create(q0[d]);
                    a = TOps.MultiplyAdd(x0, TOps.Load(k + d * B), a);
                    a1 = TOps.MultiplyAdd(x0, TOps.Load(k1 + d * B), a1);
                }
                TOps.Store(TOps.Add(TOps.Add(a, b), TOps.Add(c, e)), s + r * B + v);
                TOps.Store(TOps.Add(TOps.Add(a1, b1), TOps.Add(c1, e1)), s + r * B + v + TOps.Width);
            }
            // One vector (the 512-bit path's block): four chains.
            for (; v < B; v += TOps.Width)
            {
                TVec a = TOps.Create(0f), b = TOps.Create(0f), c = TOps.Create(0f), e = TOps.Create(0f);
                float* k = kBlock + v;
                int d = 0;
                for (; d + 3 < headDim; d += 4)
                {
                    a = TOps.MultiplyAdd(TOps.Create(q0[d]), TOps.Load(k + d * B), a);
                    b = TOps.MultiplyAdd(TOps.Create(q0[d + 1]), TOps.Load(k + (d + 1) * B), b);
                    c = TOps.MultiplyAdd(TOps.Create(q0[d + 2]), TOps.Load(k + (d + 2) * B), c);
                    e = TOps.MultiplyAdd(TOps.Create(q0[d + 3]), TOps.Load(k + (d + 3) * B), e);
                }
                for (; d < headDim; d++)
                {
                    a = TOps.MultiplyAdd(TOps.Create(q0[d]), TOps.Load(k + d * B), a);
                }
                TOps.Store(TOps.Add(TOps.Add(a, b), TOps.Add(c, e)), s + r * B + v);
            }
        }
    }

    /// <summary>O[r] = alpha_r · O[r] + Σ_{j &lt; count} P[r][j] · V[j] for rows first .. rows-1: four rows and two vectors of d at a time, then the rest one row and four vectors at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WeightedSum<TOps, TVec>(float* p, float* v, float* o, float* alpha, int headDim, int first, int rows, int count)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        const int B = KvCache.BlockSize;
        int n = TOps.Width;
        int vectorDims = headDim / n * n;
        int r = first;
        for (; r + 4 <= rows; r += 4)
        {
            int r1 = r + 1, r2 = r + 2, r3 = r + 3;
            float* p0 = p + r * B, p1 = p + r1 * B, p2 = p + r2 * B, p3 = p + r3 * B;
            float* o0 = o + (long)r * headDim, o1 = o + (long)r1 * headDim, o2 = o + (long)r2 * headDim, o3 = o + (long)r3 * headDim;
            TVec s0 = TOps.Create(alpha[r]), s1 = TOps.Create(alpha[r1]), s2 = TOps.Create(alpha[r2]), s3 = TOps.Create(alpha[r3]);
            int d = 0;
            for (; d + 2 * n <= vectorDims; d += 2 * n)
            {
                TVec x0 = TOps.Multiply(TOps.Load(o0 + d), s0), y0 = TOps.Multiply(TOps.Load(o0 + d + n), s0);
                TVec x1 = TOps.Multiply(TOps.Load(o1 + d), s1), y1 = TOps.Multiply(TOps.Load(o1 + d + n), s1);
                TVec x2 = TOps.Multiply(TOps.Load(o2 + d), s2), y2 = TOps.Multiply(TOps.Load(o2 + d + n), s2);
                TVec x3 = TOps.Multiply(TOps.Load(o3 + d), s3), y3 = TOps.Multiply(TOps.Load(o3 + d + n), s3);
                float* vj = v + d;
                for (int j = 0; j < count; j++, vj += headDim)
                {
                    TVec va = TOps.Load(vj), vb = TOps.Load(vj + n);
                    TVec w0 = TOps.Create(p0[j]), w1 = TOps.Create(p1[j]), w2 = TOps.Create(p2[j]), w3 = TOps.Create(p3[j]);
                    x0 = TOps.MultiplyAdd(w0, va, x0);
                    y0 = TOps.MultiplyAdd(w0, vb, y0);
                    x1 = TOps.MultiplyAdd(w1, va, x1);
                    y1 = TOps.MultiplyAdd(w1, vb, y1);
                    x2 = TOps.MultiplyAdd(w2, va, x2);
                    y2 = TOps.MultiplyAdd(w2, vb, y2);
                    x3 = TOps.MultiplyAdd(w3, va, x3);
                    y3 = TOps.MultiplyAdd(w3, vb, y3);
                }
                TOps.Store(x0, o0 + d);
                TOps.Store(y0, o0 + d + n);
                TOps.Store(x1, o1 + d);
                TOps.Store(y1, o1 + d + n);
                TOps.Store(x2, o2 + d);
                TOps.Store(y2, o2 + d + n);
                TOps.Store(x3, o3 + d);
                TOps.Store(y3, o3 + d + n);
            }
            for (; d < vectorDims; d += n)
            {
                TVec x0 = TOps.Multiply(TOps.Load(o0 + d), s0), x1 = TOps.Multiply(TOps.Load(o1 + d), s1);
                TVec x2 = TOps.Multiply(TOps.Load(o2 + d), s2), x3 = TOps.Multiply(TOps.Load(o3 + d), s3);
                float* vj = v + d;
                for (int j = 0; j < count; j++, vj += headDim)
                {
                    TVec va = TOps.Load(vj);
                    x0 = TOps.MultiplyAdd(TOps.Create(p0[j]), va, x0);
                    x1 = TOps.MultiplyAdd(TOps.Create(p1[j]), va, x1);
                    x2 = TOps.MultiplyAdd(TOps.Create(p2[j]), va, x2);
                    x3 = TOps.MultiplyAdd(TOps.Create(p3[j]), va, x3);
                }
                TOps.Store(x0, o0 + d);
                TOps.Store(x1, o1 + d);
                TOps.Store(x2, o2 + d);
                TOps.Store(x3, o3 + d);
            }
            // Head dims past the last whole vector, one float at a time.
            for (; d < headDim; d++)
            {
                float x0 = o0[d] * alpha[r], x1 = o1[d] * alpha[r1], x2 = o2[d] * alpha[r2], x3 = o3[d] * alpha[r3];
                float* vj = v + d;
                for (int j = 0; j < count; j++, vj += headDim)
                {
                    float va = *vj;
                    x0 += p0[j] * va;
                    x1 += p1[j] * va;
                    x2 += p2[j] * va;
                    x3 += p3[j] * va;
                }
                o0[d] = x0;
                o1[d] = x1;
                o2[d] = x2;
                o3[d] = x3;
            }
        }
        // The last rows one at a time: eight, then four vectors of d per pass over the block's value rows (eight
        // independent chains keep both multiply-add ports busy).
        for (; r < rows; r++)
        {
            float* p0 = p + r * B, o0 = o + (long)r * headDim;
            TVec s0 = TOps.Create(alpha[r]);
            int d = 0;
            for (; d + 8 * n <= vectorDims; d += 8 * n)
            {
                float* od = o0 + d;
                TVec x0 = TOps.Multiply(TOps.Load(od), s0), x1 = TOps.Multiply(TOps.Load(od + n), s0);
                TVec x2 = TOps.Multiply(TOps.Load(od + 2 * n), s0), x3 = TOps.Multiply(TOps.Load(od + 3 * n), s0);
                TVec x4 = TOps.Multiply(TOps.Load(od + 4 * n), s0), x5 = TOps.Multiply(TOps.Load(od + 5 * n), s0);
                TVec x6 = TOps.Multiply(TOps.Load(od + 6 * n), s0), x7 = TOps.Multiply(TOps.Load(od + 7 * n), s0);
                float* vj = v + d;
                for (int j = 0; j < count; j++, vj += headDim)
                {
                    TVec w = TOps.Create(p0[j]);
                    x0 = TOps.MultiplyAdd(w, TOps.Load(vj), x0);
                    x1 = TOps.MultiplyAdd(w, TOps.Load(vj + n), x1);
                    x2 = TOps.MultiplyAdd(w, TOps.Load(vj + 2 * n), x2);
                    x3 = TOps.MultiplyAdd(w, TOps.Load(vj + 3 * n), x3);
                    x4 = TOps.MultiplyAdd(w, TOps.Load(vj + 4 * n), x4);
                    x5 = TOps.MultiplyAdd(w, TOps.Load(vj + 5 * n), x5);
                    x6 = TOps.MultiplyAdd(w, TOps.Load(vj + 6 * n), x6);
                    x7 = TOps.MultiplyAdd(w, TOps.Load(vj + 7 * n), x7);
                }
                TOps.Store(x0, od);
                TOps.Store(x1, od + n);
                TOps.Store(x2, od + 2 * n);
                TOps.Store(x3, od + 3 * n);
                TOps.Store(x4, od + 4 * n);
                TOps.Store(x5, od + 5 * n);
                TOps.Store(x6, od + 6 * n);
                TOps.Store(x7, od + 7 * n);
            }
            for (; d + 4 * n <= vectorDims; d += 4 * n)
            {
                TVec x0 = TOps.Multiply(TOps.Load(o0 + d), s0), x1 = TOps.Multiply(TOps.Load(o0 + d + n), s0);
                TVec x2 = TOps.Multiply(TOps.Load(o0 + d + 2 * n), s0), x3 = TOps.Multiply(TOps.Load(o0 + d + 3 * n), s0);
                float* vj = v + d;
                for (int j = 0; j < count; j++, vj += headDim)
                {
                    TVec w = TOps.Create(p0[j]);
                    x0 = TOps.MultiplyAdd(w, TOps.Load(vj), x0);
                    x1 = TOps.MultiplyAdd(w, TOps.Load(vj + n), x1);
                    x2 = TOps.MultiplyAdd(w, TOps.Load(vj + 2 * n), x2);
                    x3 = TOps.MultiplyAdd(w, TOps.Load(vj + 3 * n), x3);
                }
                TOps.Store(x0, o0 + d);
                TOps.Store(x1, o0 + d + n);
                TOps.Store(x2, o0 + d + 2 * n);
                TOps.Store(x3, o0 + d + 3 * n);
            }
            for (; d < vectorDims; d += n)
            {
                TVec x0 = TOps.Multiply(TOps.Load(o0 + d), s0);
                float* vj = v + d;
                for (int j = 0; j < count; j++, vj += headDim)
                {
                    x0 = TOps.MultiplyAdd(TOps.Create(p0[j]), TOps.Load(vj), x0);
                }
                TOps.Store(x0, o0 + d);
            }
            for (; d < headDim; d++)
            {
                float x0 = o0[d] * alpha[r];
                float* vj = v + d;
                for (int j = 0; j < count; j++, vj += headDim)
                {
                    x0 += p0[j] * *vj;
                }
                o0[d] = x0;
            }
        }
    }

    private static long Pad(long floats) => (floats + 15) / 16 * 16;

    /// <summary>One worker's scratch, carved from one aligned block.</summary>
    public readonly struct Scratch
    {
        public Scratch(float* block, int rows, int headDim)
        {
            Queries = block;
            Output = Queries + Pad((long)rows * headDim);
            Scores = Output + Pad((long)rows * headDim);
            Max = Scores + Pad((long)rows * KvCache.BlockSize);
            Sum = Max + Pad(rows);
            Alpha = Sum + Pad(rows);
            Spare = Alpha + Pad(rows);
        }

        /// <summary>Scaled query rows [R][headDim].</summary>
        public float* Queries { get; }

        /// <summary>Unnormalised output rows [R][headDim].</summary>
        public float* Output { get; }

        /// <summary>One block's scores, then probabilities [R][16].</summary>
        public float* Scores { get; }

        /// <summary>Running max per row.</summary>
        public float* Max { get; }

        /// <summary>Running sum per row.</summary>
        public float* Sum { get; }

        /// <summary>This block's rescale factor per row.</summary>
        public float* Alpha { get; }

        /// <summary>Output rows [TileRows][headDim] for the missing rows of a partial query tile (<see cref="PrefillKernel"/>).</summary>
        public float* Spare { get; }
    }
}
