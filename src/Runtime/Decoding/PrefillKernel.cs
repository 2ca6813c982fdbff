using System.Runtime.CompilerServices;

namespace AttnGen;

/// <summary>
/// The per-unit work of <see cref="DecodeAttention"/> for chunks of several tokens (chunked prefill): the same
/// contract as <see cref="DecodeKernel.Run{TOps, TVec}"/> (rows <c>r = t · G + g</c>, running max, sum and
/// unnormalised output left in the scratch), computed FlashAttention-style by query tiles: each tile of
/// <see cref="TileRows"/> rows walks the visible key positions once, scored by a register tile against the cache's
/// transposed key blocks (a block <c>[HeadDim][16]</c> is a packed <c>Kᵀ</c> panel as it stands), folded into
/// each row's online softmax, and accumulated as <c>O = alpha ∘ O + P · V</c> by a second register tile over the
/// row-major value rows. A tile's output, max and sum stay in L1 for its whole walk; the key and value rows of
/// one (sequence, key/value head) pair are re-read once per tile from L2.
/// </summary>
/// <remarks>
/// <para>
/// Register budget (16 vector registers on AVX2 and SSE, 32 on AVX-512 and Neon), both tiles
/// <see cref="TileRows"/> = 6 rows by 2 vectors: 12 accumulators + 2 loaded vectors (two key columns, or two value
/// columns) + 1 broadcast query or probability = 15 registers, so nothing spills on the 16-register paths. Per
/// head dimension (scores) or per key (P·V) that is 12 multiply-adds for 2 vector loads and 6 broadcasts, against
/// 4 multiply-adds for 5 loads in the one-row-at-a-time decode kernel.
/// </para>
/// <para>
/// A step covers <c>max(32, 2 · Width)</c> = 32 key positions, two 16-position cache blocks, so the online softmax
/// (block max, exponentials, rescale) runs once per 32 keys per row: 2 column pairs of 2 vectors on the 256-bit
/// path, 4 on the 128-bit one, 16 on the scalar one, 1 pair of one vector per block on the 512-bit one (16 keys
/// per step: the attention of a 512-token prefill took 4.3 ms on AVX2 against 4.0 ms with 32, as the per-row softmax
/// is paid twice as often). Column vectors past the tile's last visible position are pointed at the step's first
/// block and masked, so nothing past the written rows is read. Causality is per row: row <c>r</c> sees positions below
/// <c>past + r / G + 1</c> (clipped to the unit's range); steps wholly past the tile's last row are never visited,
/// and a row with no visible position in a step keeps its state (alpha = 1, P = 0).
/// </para>
/// </remarks>
internal static unsafe class PrefillKernel
{
    /// <summary>Query rows per register tile.</summary>
    public const int TileRows = 6;

    /// <summary>Query rows from which the tiled kernel runs instead of <see cref="DecodeKernel"/> (two whole tiles).</summary>
    public const int MinRows = 2 * TileRows;

    /// <summary>
    /// One unit: the arguments and the scratch contract of <see cref="DecodeKernel.Run{TOps, TVec}"/>, with at least
    /// <see cref="MinRows"/> rows (the score tile then fits in <see cref="DecodeKernel.Scratch.Scores"/>).
    /// </summary>
    public static void Run<TOps, TVec>(float* keys, float* values, int headDim, int groups, int tokens, int past,
        int blockBegin, int blockEnd, DecodeKernel.Scratch scratch)
        where TOps : struct, IVectorOps<TVec>
        where TVec : unmanaged
    {
        const int B = KvCache.BlockSize;
        int step = Math.Max(2 * B, 2 * TOps.Width);
        int rows = groups * tokens;
        int unitBegin = blockBegin * B, unitEnd = Math.Min(blockEnd * B, past + tokens);
        float* m = stackalloc float[TileRows];
        float* alpha = stackalloc float[TileRows];
        int* limit = stackalloc int[TileRows];
        float** qRow = stackalloc float*[TileRows];
        float** oRow = stackalloc float*[TileRows];
        TVec* l = stackalloc TVec[TileRows];
        float* p = scratch.Scores; // [TileRows][step]: the scratch holds rows x 16 >= TileRows x 32 floats when rows >= MinRows
        for (int r0 = 0; r0 < rows; r0 += TileRows)
        {
            int n = Math.Min(TileRows, rows - r0);
            for (int i = 0; i < TileRows; i++)
            {
                // Missing rows of a partial tile repeat the last row's query and write to the spare rows.
                int r = r0 + Math.Min(i, n - 1);
                qRow[i] = scratch.Queries + (long)r * headDim;
                oRow[i] = i < n ? scratch.Output + (long)r * headDim : scratch.Spare + (long)i * headDim;
                limit[i] = Math.Min(past + r / groups + 1, unitEnd);
                m[i] = float.NegativeInfinity;
                l[i] = TOps.Create(0f);
                new Span<float>(oRow[i], headDim).Clear();
            }
            int tileEnd = limit[TileRows - 1], allSee = limit[0];
            for (int p0 = unitBegin; p0 < tileEnd; p0 += step)
            {
                ScoreTile<TOps, TVec>(qRow, keys, headDim, p0, step, tileEnd, p);
                if (p0 + step > allSee)
                {
                    for (int i = 0; i < TileRows; i++)
                    {
                        SoftmaxRows<TOps, TVec>.MaskFrom(p + i * step, step, limit[i] - p0);
                    }
                }
                SoftmaxRows<TOps, TVec>.OnlineStep(p, step, TileRows, step, m, l, alpha);
                // Positions past tileEnd have P = 0 in every row: P·V stops there and never reads unwritten rows.
                int count = Math.Min(step, tileEnd - p0);
                ValueTile<TOps, TVec>(p, step, values + (long)p0 * headDim, headDim, count, alpha, oRow);
            }
            for (int i = 0; i < n; i++)
            {
                scratch.Max[r0 + i] = m[i];
                scratch.Sum[r0 + i] = TOps.HorizontalSum(l[i]);
            }
        }
    }

    /// <summary>
    /// S[i][0 .. step-1] = Σ_d Q[i][d] · K[d][p0 ..] for the tile's rows: pairs of key-column vectors, each a 6 x 2 register tile over d.
    /// A column vector at or past <paramref name="end"/> reads the step's first block instead (its scores are masked).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScoreTile<TOps, TVec>(float** qRow, float* keys, int headDim, int p0, int step, int end, float* s)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        const int B = KvCache.BlockSize;
        int w = TOps.Width;
        float* q0 = qRow[0], q1 = qRow[1], q2 = qRow[2], q3 = qRow[3], q4 = qRow[4], q5 = qRow[5];
        for (int c = 0; c < step; c += 2 * w)
        {
            float* k0 = ColumnVector(keys, headDim, p0, p0 + c, end);
            float* k1 = ColumnVector(keys, headDim, p0, p0 + c + w, end);
            TVec c00 = TOps.Create(0f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
            TVec c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
            for (int d = 0; d < headDim; d++)
            {
                TVec b0 = TOps.Load(k0 + d * B), b1 = TOps.Load(k1 + d * B);
                TVec a = TOps.Create(q0[d]);
                c00 = TOps.MultiplyAdd(a, b0, c00);
                c01 = TOps.MultiplyAdd(a, b1, c01);
                a = TOps.Create(q1[d]);
                c10 = TOps.MultiplyAdd(a, b0, c10);
                c11 = TOps.MultiplyAdd(a, b1, c11);
                a = TOps.Create(q2[d]);
                c20 = TOps.MultiplyAdd(a, b0, c20);
                c21 = TOps.MultiplyAdd(a, b1, c21);
                a = TOps.Create(q3[d]);
                c30 = TOps.MultiplyAdd(a, b0, c30);
                c31 = TOps.MultiplyAdd(a, b1, c31);
                a = TOps.Create(q4[d]);
                c40 = TOps.MultiplyAdd(a, b0, c40);
                c41 = TOps.MultiplyAdd(a, b1, c41);
                a = TOps.Create(q5[d]);
                c50 = TOps.MultiplyAdd(a, b0, c50);
                c51 = TOps.MultiplyAdd(a, b1, c51);
            }
            float* t = s + c;
            TOps.Store(c00, t);
            TOps.Store(c01, t + w);
            TOps.Store(c10, t + step);
            TOps.Store(c11, t + step + w);
            TOps.Store(c20, t + 2 * step);
            TOps.Store(c21, t + 2 * step + w);
            TOps.Store(c30, t + 3 * step);
            TOps.Store(c31, t + 3 * step + w);
            TOps.Store(c40, t + 4 * step);
            TOps.Store(c41, t + 4 * step + w);
            TOps.Store(c50, t + 5 * step);
            TOps.Store(c51, t + 5 * step + w);
        }
    }

    /// <summary>The first key row of the column vector at position <paramref name="position"/> in the transposed blocks, or of the step's block when it is past <paramref name="end"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* ColumnVector(float* keys, int headDim, int p0, int position, int end)
    {
        const int B = KvCache.BlockSize;
        int at = position < end ? position : p0;
        return keys + (long)(at / B) * headDim * B + at % B;
    }

    /// <summary>
    /// O[i] = alpha_i · O[i] + Σ_{j &lt; count} P[i][j] · V[j] for the tile's rows: 6 x 2 register tiles over d, then
    /// 6 x 1, then a masked partial vector for the head dims past the last whole vector.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ValueTile<TOps, TVec>(float* p, int step, float* v, int headDim, int count, float* alpha, float** oRow)
        where TOps : struct, IVectorOps<TVec>
        where TVec : struct
    {
        int w = TOps.Width;
        float* o0 = oRow[0], o1 = oRow[1], o2 = oRow[2], o3 = oRow[3], o4 = oRow[4], o5 = oRow[5];
        float* p1 = p + step, p2 = p + 2 * step, p3 = p + 3 * step, p4 = p + 4 * step, p5 = p + 5 * step;
        TVec s0 = TOps.Create(alpha[0]), s1 = TOps.Create(alpha[1]), s2 = TOps.Create(alpha[2]);
        TVec s3 = TOps.Create(alpha[3]), s4 = TOps.Create(alpha[4]), s5 = TOps.Create(alpha[5]);
        int d = 0;
        for (; d + 2 * w <= headDim; d += 2 * w)
        {
            TVec c00 = TOps.Multiply(TOps.Load(o0 + d), s0), c01 = TOps.Multiply(TOps.Load(o0 + d + w), s0);
            TVec c10 = TOps.Multiply(TOps.Load(o1 + d), s1), c11 = TOps.Multiply(TOps.Load(o1 + d + w), s1);
            TVec c20 = TOps.Multiply(TOps.Load(o2 + d), s2), c21 = TOps.Multiply(TOps.Load(o2 + d + w), s2);
            TVec c30 = TOps.Multiply(TOps.Load(o3 + d), s3), c31 = TOps.Multiply(TOps.Load(o3 + d + w), s3);
            TVec c40 = TOps.Multiply(TOps.Load(o4 + d), s4), c41 = TOps.Multiply(TOps.Load(o4 + d + w), s4);
            TVec c50 = TOps.Multiply(TOps.Load(o5 + d), s5), c51 = TOps.Multiply(TOps.Load(o5 + d + w), s5);
            float* vj = v + d;
            for (int j = 0; j < count; j++, vj += headDim)
            {
                TVec b0 = TOps.Load(vj), b1 = TOps.Load(vj + w);
                TVec a = TOps.Create(p[j]);
                c00 = TOps.MultiplyAdd(a, b0, c00);
                c01 = TOps.MultiplyAdd(a, b1, c01);
                a = TOps.Create(p1[j]);
                c10 = TOps.MultiplyAdd(a, b0, c10);
                c11 = TOps.MultiplyAdd(a, b1, c11);
                a = TOps.Create(p2[j]);
                c20 = TOps.MultiplyAdd(a, b0, c20);
                c21 = TOps.MultiplyAdd(a, b1, c21);
                a = TOps.Create(p3[j]);
                c30 = TOps.MultiplyAdd(a, b0, c30);
                c31 = TOps.MultiplyAdd(a, b1, c31);
                a = TOps.Create(p4[j]);
                c40 = TOps.MultiplyAdd(a, b0, c40);
                c41 = TOps.MultiplyAdd(a, b1, c41);
                a = TOps.Create(p5[j]);
                c50 = TOps.MultiplyAdd(a, b0, c50);
                c51 = TOps.MultiplyAdd(a, b1, c51);
            }
            TOps.Store(c00, o0 + d);
            TOps.Store(c01, o0 + d + w);
            TOps.Store(c10, o1 + d);
            TOps.Store(c11, o1 + d + w);
            TOps.Store(c20, o2 + d);
            TOps.Store(c21, o2 + d + w);
            TOps.Store(c30, o3 + d);
            TOps.Store(c31, o3 + d + w);
            TOps.Store(c40, o4 + d);
            TOps.Store(c41, o4 + d + w);
            TOps.Store(c50, o5 + d);
            TOps.Store(c51, o5 + d + w);
        }
        for (; d < headDim; d += w)
        {
            // One vector, or the partial one past the last whole vector (reads and writes only its lanes).
            TVec mask = TOps.TailMask(Math.Min(w, headDim - d));
            TVec c0 = TOps.Multiply(TOps.LoadTail(o0 + d, mask), s0), c1 = TOps.Multiply(TOps.LoadTail(o1 + d, mask), s1);
            TVec c2 = TOps.Multiply(TOps.LoadTail(o2 + d, mask), s2), c3 = TOps.Multiply(TOps.LoadTail(o3 + d, mask), s3);
            TVec c4 = TOps.Multiply(TOps.LoadTail(o4 + d, mask), s4), c5 = TOps.Multiply(TOps.LoadTail(o5 + d, mask), s5);
            float* vj = v + d;
            for (int j = 0; j < count; j++, vj += headDim)
            {
                TVec b = TOps.LoadTail(vj, mask);
                c0 = TOps.MultiplyAdd(TOps.Create(p[j]), b, c0);
                c1 = TOps.MultiplyAdd(TOps.Create(p1[j]), b, c1);
                c2 = TOps.MultiplyAdd(TOps.Create(p2[j]), b, c2);
                c3 = TOps.MultiplyAdd(TOps.Create(p3[j]), b, c3);
                c4 = TOps.MultiplyAdd(TOps.Create(p4[j]), b, c4);
                c5 = TOps.MultiplyAdd(TOps.Create(p5[j]), b, c5);
            }
            TOps.StoreTail(c0, o0 + d, mask);
            TOps.StoreTail(c1, o1 + d, mask);
            TOps.StoreTail(c2, o2 + d, mask);
            TOps.StoreTail(c3, o3 + d, mask);
            TOps.StoreTail(c4, o4 + d, mask);
            TOps.StoreTail(c5, o5 + d, mask);
        }
    }
}
