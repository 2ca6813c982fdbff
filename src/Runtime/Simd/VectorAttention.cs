using System.ComponentModel;

namespace AttnGen;

/// <summary>
/// The attention core's forward on one vector width (FlashAttention-2 shape), the same for every layer: per
/// key/value head, keys packed transposed in key blocks and values copied into one padded block; per query head and
/// tile of Br rows, each visible key block is scored by a register tile, masked where a mask can apply, folded into
/// each row's running max and sum (<see cref="SoftmaxRows{TOps, TVec}.OnlineStep"/>), and accumulated as
/// O = alpha ∘ O + P·V by another register tile. Blocks wholly above the causal diagonal or past the valid length
/// are never visited, and a block the tile sees only in part (the sequence's last, the causal diagonal) is scored
/// only up to its last visible key rounded up to <see cref="AttentionTiling.ScoreStep"/> (a vector on AVX-512, the score
/// tile elsewhere; <see cref="AttentionTiling.BlockKeys"/>). The layer
/// supplies its shape (<see cref="AttentionTiling"/>) and its register-tile kernels (<see cref="AttentionKernels"/>).
/// </summary>
/// <typeparam name="TOps">The width: <see cref="Vector512Ops"/>, <see cref="Vector256Ops"/>, <see cref="Vector128Ops"/>, or <see cref="ScalarOps"/> (the scalar path, one float per vector).</typeparam>
/// <typeparam name="TVec">Its vector type (<see cref="float"/> for <see cref="ScalarOps"/>).</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class VectorAttention<TOps, TVec>
    where TOps : struct, IVectorOps<TVec>
    where TVec : unmanaged
{
    /// <summary>The most query rows a tile may have (the row state lives on the stack).</summary>
    public const int MaxTileRows = 16;

    /// <summary>
    /// Query tiles of one head that share a pass over its keys and values (each key and value block is read from L2
    /// once for all of them); the layer's scratch holds this many query, probability and output tiles.
    /// </summary>
    public const int TilesPerPass = 2;

    /// <summary>
    /// One sequence: <c>context[i, h] = Σ_j softmax_j(score(q[i, h], k[j, h / GroupSize])) · v[j, h / GroupSize]</c> over
    /// the visible keys; with <paramref name="lse"/> the row log-sum-exp [Heads, SeqLen] (scaled units) for the backward.
    /// <paramref name="additiveV"/> is the layer's v block for additive scoring, else null. The work units are the
    /// query tiles of every head, head by head; <paramref name="split"/> picks a contiguous range of them (whole heads
    /// when the heads divide evenly, so a key/value group's keys are packed once per worker that uses it; causal tiles
    /// in an order that mixes short and long rows). Each tile is computed alone, so the result does not depend on the split.
    /// </summary>
    public static void Forward(AttentionTiling t, in AttentionKernels kernels, in AttentionBuffers buffers,
        float* q, float* k, float* v, float* context, int validLength, float* additiveV, float* lse, SequenceSplit split)
    {
        int tiles = (t.SeqLen + t.QueryRows - 1) / t.QueryRows, units = t.Heads * tiles;
        int end = split.End(units), packedGroup = -1;
        for (int u = split.Start(units); u < end;)
        {
            int h = u / tiles, g = h / t.GroupSize;
            if (g != packedGroup)
            {
                KernelSupport.PackKeyBlocks(k + g * t.HeadDim, t.KvWidth, t.KvSeqLen, t.HeadDim, t.KeyPad, t.KeyBlock, buffers.KeysT);
                // Values are copied even when they could be read in place: P·V walks a value block row by row, and rows
                // H·D floats apart (a power of two times 256 bytes for the usual shapes) fall into a few L1 sets and evict
                // each other, while the packed rows are contiguous.
                KernelSupport.PackRows(v + g * t.HeadDim, t.KvWidth, t.KvSeqLen, t.HeadDim, t.KeyPad, t.DimPad, buffers.Values);
                packedGroup = g;
            }
            float* init = additiveV == null ? KernelSupport.ZeroRow : additiveV + h * t.HeadDim;
            for (int headEnd = Math.Min(end, (h + 1) * tiles); u < headEnd;)
            {
                int count = Math.Min(TilesPerPass, headEnd - u);
                Tiles(t, kernels, buffers, q + h * t.HeadDim, context + h * t.HeadDim, u - h * tiles, count, tiles,
                    validLength, init, lse == null ? null : lse + h * t.SeqLen);
                u += count;
            }
        }
    }

    // The query tile of a head's k-th unit. Causal tiles cost more the later they sit, so their units alternate
    // between the first and the last tile left (0, T-1, 1, T-2, ...): a contiguous share of a head's units then
    // holds cheap and dear tiles alike.
    private static int TileOf(int k, int tiles, bool causal)
        => !causal ? k : (k & 1) == 0 ? k >> 1 : tiles - 1 - (k >> 1);

    /// <summary>
    /// Query tiles <paramref name="first"/> .. first + count - 1 of one head (in <see cref="TileOf"/> order) against every
    /// key block some row of them sees, in one pass over the keys: a key block is scored for every tile while its keys
    /// are in L1, then accumulated into every tile while its values are. <paramref name="q"/>, <paramref name="output"/>
    /// and <paramref name="lse"/> point at the head's first row.
    /// </summary>
    private static void Tiles(AttentionTiling t, in AttentionKernels kernels, in AttentionBuffers buffers, float* q,
        float* output, int first, int count, int tiles, int validLength, float* init, float* lse)
    {
        int bc = t.KeyBlock, dimPad = t.DimPad, br = t.QueryRows;
        // Per tile: its first row, rows, the keys its last row sees (keyEnd) and the keys all its rows see (maskFrom).
        int* i0 = stackalloc int[TilesPerPass];
        int* n = stackalloc int[TilesPerPass];
        int* keyEnd = stackalloc int[TilesPerPass];
        int* maskFrom = stackalloc int[TilesPerPass];
        // Each row's running max m and sum l (a vector, reduced at the end); O accumulates unnormalised.
        float* m = stackalloc float[TilesPerPass * MaxTileRows];
        float* alpha = stackalloc float[TilesPerPass * MaxTileRows];
        TVec* l = stackalloc TVec[TilesPerPass * MaxTileRows];
        int passEnd = 0;
        for (int c = 0; c < count; c++)
        {
            i0[c] = TileOf(first + c, tiles, t.Causal) * br;
            n[c] = Math.Min(br, t.SeqLen - i0[c]);
            keyEnd[c] = t.VisibleKeys(i0[c] + n[c] - 1, validLength);
            maskFrom[c] = t.VisibleKeys(i0[c], validLength);
            passEnd = Math.Max(passEnd, keyEnd[c]);
            for (int r = 0; r < n[c]; r++)
            {
                m[c * MaxTileRows + r] = float.NegativeInfinity;
                l[c * MaxTileRows + r] = TOps.Create(0f);
                // The query rows times the scale: the score tile then gives scaled scores (exactly so for a power-of-two scale).
                SoftmaxRows<TOps, TVec>.ScaleInto(q + (i0[c] + r) * t.QueryWidth, buffers.Query + (c * br + r) * dimPad, t.HeadDim, t.Scale);
            }
            new Span<float>(buffers.Out + c * br * dimPad, n[c] * dimPad).Clear();
        }
        for (int j0 = 0; j0 < passEnd; j0 += bc)
        {
            for (int c = 0; c < count; c++)
            {
                if (j0 >= keyEnd[c])
                {
                    continue;
                }
                // Only the keys some row sees: the last block of the sequence and the causal diagonal block stop at the
                // tile's last visible key, rounded up to the score step.
                int keys = t.BlockKeys(keyEnd[c] - j0);
                float* p = buffers.Prob + c * br * bc;
                var score = n[c] == br ? kernels.Score : kernels.ScoreLast;
                score(buffers.Query + c * br * dimPad, buffers.KeysT + j0 * t.HeadDim, bc, init, p, bc, keys);
                if (j0 + keys > maskFrom[c])
                {
                    for (int r = 0; r < n[c]; r++)
                    {
                        SoftmaxRows<TOps, TVec>.MaskFrom(p + r * bc, keys, t.VisibleKeys(i0[c] + r, validLength) - j0);
                    }
                }
                SoftmaxRows<TOps, TVec>.OnlineStep(p, bc, n[c], keys, m + c * MaxTileRows, l + c * MaxTileRows, alpha + c * MaxTileRows);
            }
            for (int c = 0; c < count; c++)
            {
                if (j0 >= keyEnd[c])
                {
                    continue;
                }
                // Keys past keyEnd have P = 0 in every row of the tile: P·V stops there.
                var accumulate = n[c] == br ? kernels.Accumulate : kernels.AccumulateLast;
                accumulate(buffers.Prob + c * br * bc, Math.Min(bc, keyEnd[c] - j0), buffers.Values + j0 * dimPad, dimPad,
                    alpha + c * MaxTileRows, buffers.Out + c * br * dimPad, dimPad, dimPad);
            }
        }
        // O / l into the output rows (a row that saw no key has l = 0 and gets zeros); the row log-sum-exp in scaled units.
        for (int c = 0; c < count; c++)
        {
            for (int r = 0; r < n[c]; r++)
            {
                int row = i0[c] + r;
                float sum = TOps.HorizontalSum(l[c * MaxTileRows + r]);
                if (lse != null)
                {
                    lse[row] = sum > 0f ? m[c * MaxTileRows + r] + MathF.Log(sum) : float.NegativeInfinity;
                }
                SoftmaxRows<TOps, TVec>.ScaleInto(buffers.Out + (c * br + r) * dimPad, output + row * t.QueryWidth, t.HeadDim, sum > 0f ? 1f / sum : 0f);
            }
        }
    }
}
