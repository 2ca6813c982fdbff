using System.ComponentModel;

namespace AttnGen;

/// <summary>
/// The attention core's backward on one vector width (FlashAttention-2), the same for every layer: per key/value
/// head, keys and values packed transposed in key blocks and the keys also copied into one padded block; per query
/// head, passes of <see cref="TilesPerPass"/> query tiles of Br rows. In a pass, each visible key block recomputes
/// S = (Q·scale)·Kᵀ and dP = dO·Vᵀ for every tile that sees it (register tiles), P = e^(S - LSE) and dS = P ∘ (dP - Δ)
/// per row (<see cref="SoftmaxRows{TOps, TVec}.Gradient"/>), then dV += Pᵀ·dO and dK += dSᵀ·Q once over the rows of
/// all those tiles (the transposed tile), and dQ += dS·K tile by tile (the accumulating tile), or the additive score's
/// gradient. Nothing is ever S x S: the work area is O(S·HeadDim) per head.
/// </summary>
/// <typeparam name="TOps">The width: <see cref="Vector512Ops"/>, <see cref="Vector256Ops"/>, <see cref="Vector128Ops"/>, or <see cref="ScalarOps"/> (the scalar path, one float per vector).</typeparam>
/// <typeparam name="TVec">Its vector type (<see cref="float"/> for <see cref="ScalarOps"/>).</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class VectorAttentionBackward<TOps, TVec>
    where TOps : struct, IVectorOps<TVec>
    where TVec : unmanaged
{
    /// <summary>
    /// Query tiles of one head that share a pass over its key blocks: each block's keys and values are read once for all
    /// of them, and the dV and dK updates reduce over all their rows at once (TilesPerPass · Br rows instead of Br), so a
    /// register tile of dV or dK is loaded and stored once per that many rows. The layer's work area holds this many
    /// query, output-gradient, query-gradient, probability and score-gradient tiles.
    /// </summary>
    public const int TilesPerPass = 4;

    /// <summary>
    /// One sequence: dQ, dK and dV (overwritten) from the forward's q, k, v, output <paramref name="o"/>, its row
    /// log-sum-exp and the output gradient <paramref name="dO"/>; for additive scoring (<paramref name="additiveV"/> not
    /// null) the gradient of v is added into <paramref name="additiveVGrad"/>. <paramref name="split"/> picks a
    /// contiguous range of the key/value heads: a group's dK and dV, the dQ columns of its query heads and its additive gradients belong to it
    /// alone, so the workers of a sequence write disjoint elements and each is computed as on one worker. With too few
    /// key/value heads for the workers (7 · KvHeads &lt; 5 · Parts: multi-query attention on two threads, two heads on
    /// three) and no additive scoring, the work is shared by key blocks and query passes instead (<see cref="BackwardShared"/>).
    /// </summary>
    public static void Backward(AttentionTiling t, in AttentionKernels kernels, in AttentionBuffers buffers,
        float* q, float* k, float* v, float* o, float* dO, float* dq, float* dk, float* dv, float* lse,
        float* additiveV, float* additiveVGrad, int validLength, SequenceSplit split)
    {
        int dimPad = t.DimPad, rows = TilesPerPass * t.QueryRows;
        // Only the first HeadDim floats of a tile row are ever written: the padding stays zero and adds nothing.
        new Span<float>(buffers.Query, rows * dimPad).Clear();
        new Span<float>(buffers.OutGrad, rows * dimPad).Clear();
        if (additiveV != null)
        {
            new Span<float>(buffers.AdditiveV, dimPad).Clear();
        }
        // By heads the largest share is a whole head, 1 / KvHeads of the work; the two loops do 7/5 of it over all the
        // parts, so they are worth it only when 7 · KvHeads < 5 · Parts (one head on two workers, two on three).
        if (7 * t.KvHeads < 5 * split.Parts && additiveV == null)
        {
            BackwardShared(t, kernels, buffers, q, k, v, o, dO, dq, dk, dv, lse, validLength, split);
            return;
        }
        for (int g = split.Start(t.KvHeads), gEnd = split.End(t.KvHeads); g < gEnd; g++)
        {
            Pack(t, buffers, k, v, g);
            new Span<float>(buffers.KeyGrad, t.KeyPad * dimPad).Clear();
            new Span<float>(buffers.ValueGrad, t.KeyPad * dimPad).Clear();
            // The query heads of the group share this head's dK and dV.
            for (int h = g * t.GroupSize; h < (g + 1) * t.GroupSize; h++)
            {
                if (additiveV != null)
                {
                    KernelSupport.CopyRows(additiveV + h * t.HeadDim, t.HeadDim, buffers.AdditiveV, dimPad, 1, t.HeadDim);
                    new Span<float>(buffers.AdditiveVGrad, dimPad).Clear();
                }
                int column = h * t.HeadDim;
                for (int i0 = 0; i0 < t.SeqLen; i0 += rows)
                {
                    Tiles(t, kernels, buffers, q + column, o + column, dO + column, dq + column, lse + h * t.SeqLen, i0,
                        Math.Min(rows, t.SeqLen - i0), validLength, additiveV != null, 0, t.KeyPad, Parts.Both);
                }
                if (additiveV != null)
                {
                    KernelSupport.AddInto(additiveVGrad + h * t.HeadDim, buffers.AdditiveVGrad, t.HeadDim);
                }
            }
            // dK and dV of this key/value head into their rows (each element is written once).
            KernelSupport.CopyRows(buffers.KeyGrad, dimPad, dk + g * t.HeadDim, t.KvWidth, t.KvSeqLen, t.HeadDim);
            KernelSupport.CopyRows(buffers.ValueGrad, dimPad, dv + g * t.HeadDim, t.KvWidth, t.KvSeqLen, t.HeadDim);
        }
    }

    /// <summary>What a call of <see cref="Tiles"/> updates: dK and dV, dQ, or both.</summary>
    [Flags]
    private enum Parts
    {
        KeysAndValues = 1,
        Queries = 2,
        Both = KeysAndValues | Queries,
    }

    /// <summary>Key/value head <paramref name="g"/> packed for the passes: keys and values transposed in key blocks, keys also as rows.</summary>
    private static void Pack(AttentionTiling t, in AttentionBuffers buffers, float* k, float* v, int g)
    {
        KernelSupport.PackKeyBlocks(k + g * t.HeadDim, t.KvWidth, t.KvSeqLen, t.HeadDim, t.KeyPad, t.KeyBlock, buffers.KeysT);
        KernelSupport.PackKeyBlocks(v + g * t.HeadDim, t.KvWidth, t.KvSeqLen, t.HeadDim, t.KeyPad, t.KeyBlock, buffers.ValuesT);
        // Keys are copied even when they could be read in place, as the forward copies its values: dS·K walks a key
        // block row by row, and rows H·D floats apart fall into a few L1 sets and evict each other.
        KernelSupport.PackRows(k + g * t.HeadDim, t.KvWidth, t.KvSeqLen, t.HeadDim, t.KeyPad, t.DimPad, buffers.Keys);
    }

    /// <summary>
    /// The backward of one sequence shared by too many workers for its key/value heads, in two independent loops over
    /// disjoint outputs (no meeting between them). First dK and dV: the (key/value head, key block) units are shared
    /// out, and each worker runs every pass of the group's query heads over its blocks only. Then dQ: the (query head,
    /// pass) units are shared out, and each worker runs its passes over every block. S, P, dP and dS are computed in
    /// both loops (S and dP twice: five products become seven, for up to 1.4x on two workers instead of one worker
    /// alone). Each dK or dV element is summed over the same passes in the same order as on one worker, each dQ
    /// element over the same key blocks, and every tile is scored as there, so the bits are those of one worker.
    /// </summary>
    private static void BackwardShared(AttentionTiling t, in AttentionKernels kernels, in AttentionBuffers buffers,
        float* q, float* k, float* v, float* o, float* dO, float* dq, float* dk, float* dv, float* lse, int validLength,
        SequenceSplit split)
    {
        int bc = t.KeyBlock, dimPad = t.DimPad, rows = TilesPerPass * t.QueryRows;
        int blocks = t.KeyPad / bc, passes = (t.SeqLen + rows - 1) / rows;
        int packed = -1;
        for (int u = split.Start(t.KvHeads * blocks), end = split.End(t.KvHeads * blocks); u < end;)
        {
            int g = u / blocks, first = u % blocks, last = Math.Min(blocks, first + end - u);
            if (g != packed)
            {
                Pack(t, buffers, k, v, g);
                packed = g;
            }
            int from = first * bc, to = last * bc, valid = Math.Min(to, t.KvSeqLen) - from;
            new Span<float>(buffers.KeyGrad + from * dimPad, (to - from) * dimPad).Clear();
            new Span<float>(buffers.ValueGrad + from * dimPad, (to - from) * dimPad).Clear();
            for (int h = g * t.GroupSize; h < (g + 1) * t.GroupSize; h++)
            {
                int column = h * t.HeadDim;
                for (int i0 = 0; i0 < t.SeqLen; i0 += rows)
                {
                    Tiles(t, kernels, buffers, q + column, o + column, dO + column, dq + column, lse + h * t.SeqLen, i0,
                        Math.Min(rows, t.SeqLen - i0), validLength, false, from, to, Parts.KeysAndValues);
                }
            }
            if (valid > 0)
            {
                KernelSupport.CopyRows(buffers.KeyGrad + from * dimPad, dimPad, dk + from * t.KvWidth + g * t.HeadDim, t.KvWidth, valid, t.HeadDim);
                KernelSupport.CopyRows(buffers.ValueGrad + from * dimPad, dimPad, dv + from * t.KvWidth + g * t.HeadDim, t.KvWidth, valid, t.HeadDim);
            }
            u += last - first;
        }
        for (int u = split.Start(t.Heads * passes), end = split.End(t.Heads * passes); u < end; u++)
        {
            int h = u / passes, g = h / t.GroupSize, i0 = u % passes * rows, column = h * t.HeadDim;
            if (g != packed)
            {
                Pack(t, buffers, k, v, g);
                packed = g;
            }
            Tiles(t, kernels, buffers, q + column, o + column, dO + column, dq + column, lse + h * t.SeqLen, i0,
                Math.Min(rows, t.SeqLen - i0), validLength, false, 0, t.KeyPad, Parts.Queries);
        }
    }

    /// <summary>
    /// Query rows i0 .. i0 + rows - 1 of one head (up to <see cref="TilesPerPass"/> tiles of Br rows, each tile's rows
    /// contiguous in the buffers) against every key block some row of them sees from <paramref name="blockStart"/> up to
    /// <paramref name="blockEnd"/>, updating the gradients <paramref name="parts"/> names. <paramref name="q"/>,
    /// <paramref name="o"/>, <paramref name="dO"/>, <paramref name="dq"/> and <paramref name="lse"/> point at the head's
    /// first row.
    /// </summary>
    private static void Tiles(AttentionTiling t, in AttentionKernels kernels, in AttentionBuffers b, float* q, float* o, float* dO, float* dq, float* lse,
        int i0, int rows, int validLength, bool additive, int blockStart, int blockEnd, Parts parts)
    {
        bool keysAndValues = (parts & Parts.KeysAndValues) != 0, queries = (parts & Parts.Queries) != 0;
        int bc = t.KeyBlock, dimPad = t.DimPad, br = t.QueryRows;
        int tiles = (rows + br - 1) / br;
        float* delta = stackalloc float[TilesPerPass * VectorAttention<TOps, TVec>.MaxTileRows];
        float* rowLse = stackalloc float[TilesPerPass * VectorAttention<TOps, TVec>.MaxTileRows];
        float* ones = stackalloc float[VectorAttention<TOps, TVec>.MaxTileRows];
        int* limit = stackalloc int[TilesPerPass * VectorAttention<TOps, TVec>.MaxTileRows];
        // Per tile: its rows (only the sequence's last tile can have fewer than Br) and the keys its last row sees; the
        // tiles' visible key blocks grow with the row (causal), so the tiles that see a block are always the last ones of
        // the pass.
        int* n = stackalloc int[TilesPerPass];
        int* keyEnd = stackalloc int[TilesPerPass];
        // Q times the scale (as the forward scored it) and dO as it is into the tiles; Δ_r = dO_r · O_r; the saved LSE_r;
        // limit_r: the keys row r sees (a row that saw no key has LSE = -inf and limit ≤ 0, so its keys are all masked).
        KernelSupport.CopyRows(dO + i0 * t.QueryWidth, t.QueryWidth, b.OutGrad, dimPad, rows, t.HeadDim);
        for (int r = 0; r < rows; r++)
        {
            int row = i0 + r;
            SoftmaxRows<TOps, TVec>.ScaleInto(q + row * t.QueryWidth, b.Query + r * dimPad, t.HeadDim, t.Scale);
            rowLse[r] = lse[row];
            limit[r] = t.VisibleKeys(row, validLength);
        }
        SoftmaxRows<TOps, TVec>.Dots(b.OutGrad, dimPad, o + i0 * t.QueryWidth, t.QueryWidth, t.HeadDim, rows, delta);
        for (int r = 0; r < br; r++)
        {
            ones[r] = 1f;
        }
        for (int c = 0; c < tiles; c++)
        {
            n[c] = Math.Min(br, rows - c * br);
            keyEnd[c] = t.VisibleKeys(i0 + c * br + n[c] - 1, validLength);
        }
        if (queries)
        {
            new Span<float>(b.QueryGrad, rows * dimPad).Clear();
        }
        float* init = additive ? b.AdditiveV : KernelSupport.ZeroRow;
        int passEnd = keyEnd[tiles - 1]; // blocks above the last row are skipped
        for (int j0 = blockStart, jEnd = Math.Min(passEnd, blockEnd); j0 < jEnd; j0 += bc)
        {
            // dV and dK are updated only up to the pass's last visible key (past it P and dS are 0 in every row), rounded up
            // to the update tile's rows; a tile whose scores stop before that has its P and dS cleared up to it.
            int updates = t.UpdateKeys(passEnd - j0);
            int firstTile = 0;
            while (keyEnd[firstTile] <= j0)
            {
                firstTile++;
            }
            for (int c = firstTile; c < tiles; c++)
            {
                bool whole = n[c] == br;
                var score = whole ? kernels.Score : kernels.ScoreLast;
                var product = whole ? kernels.Product : kernels.ProductLast;
                // This tile's keys, rounded up to the score step (fewer than the pass's on a causal diagonal); its P
                // and dS are 0 past them.
                int keys = t.BlockKeys(keyEnd[c] - j0);
                float* p = b.Prob + c * br * bc, ds = b.ScoreGrad + c * br * bc;
                // S = Q·Kᵀ into Prob and dP = dO·Vᵀ into ScoreGrad.
                score(b.Query + c * br * dimPad, b.KeysT + j0 * t.HeadDim, bc, init, p, bc, keys);
                product(b.OutGrad + c * br * dimPad, b.ValuesT + j0 * t.HeadDim, bc, KernelSupport.ZeroRow, ds, bc, keys);
                for (int r = 0; r < n[c]; r++)
                {
                    int at = c * br + r;
                    SoftmaxRows<TOps, TVec>.Gradient(p + r * bc, ds + r * bc, keys, limit[at] - j0, rowLse[at], delta[at]);
                    if (keys < updates)
                    {
                        new Span<float>(p + r * bc + keys, updates - keys).Clear();
                        new Span<float>(ds + r * bc + keys, updates - keys).Clear();
                    }
                }
            }
            // dV += Pᵀ·dO and dK += dSᵀ·(Q·scale) for the block's keys, reduced over the rows of every tile that sees the
            // block; on a causal diagonal, each update tile of keys past the first row's limit only over the rows that see
            // some of its keys (the rows above have P = dS = 0 there).
            if (keysAndValues)
            {
                Updates(t, kernels, b, j0, firstTile * br, rows, updates, limit, additive);
            }
            if (additive)
            {
                AdditiveGradient(t, b, j0, firstTile * br, rows, limit);
                continue;
            }
            // dQ += dS·K (times the scale on the way out), tile by tile.
            if (queries)
            {
                float* block = b.Keys + j0 * dimPad;
                for (int c = firstTile; c < tiles; c++)
                {
                    var accumulate = n[c] == br ? kernels.Accumulate : kernels.AccumulateLast;
                    accumulate(b.ScoreGrad + c * br * bc, Math.Min(bc, keyEnd[c] - j0), block, dimPad, ones,
                        b.QueryGrad + c * br * dimPad, dimPad, dimPad);
                }
            }
        }
        if (queries)
        {
            for (int r = 0; r < rows; r++)
            {
                SoftmaxRows<TOps, TVec>.ScaleInto(b.QueryGrad + r * dimPad, dq + (i0 + r) * t.QueryWidth, t.HeadDim, t.Scale);
            }
        }
    }

    /// <summary>
    /// dV += Pᵀ·dO and (unless <paramref name="additive"/>) dK += dSᵀ·(Q·scale) for the first <paramref name="updates"/> keys
    /// of the key block at <paramref name="j0"/>, over pass rows <paramref name="firstRow"/> .. <paramref name="rows"/> - 1.
    /// The rows' key limits grow with the row, so the update tiles the first row sees take every row in one call; each
    /// later tile (a causal diagonal) starts at the first row that sees one of its keys, the rows above it adding only
    /// zeros. The sums are those of the whole reduction: a skipped row's products are exactly 0.
    /// </summary>
    private static void Updates(AttentionTiling t, in AttentionKernels kernels, in AttentionBuffers b, int j0, int firstRow,
        int rows, int updates, int* limit, bool additive)
    {
        int step = t.UpdateRows;
        // The update tiles the first row sees a key of: every row sees them.
        int kk = Math.Min(t.UpdateKeys(Math.Max(0, limit[firstRow] - j0)), updates);
        if (kk > 0)
        {
            Update(t, kernels, b, j0, 0, kk, firstRow, rows, additive);
        }
        for (int r = firstRow; kk < updates; kk += step)
        {
            while (limit[r] <= j0 + kk)
            {
                r++;
            }
            Update(t, kernels, b, j0, kk, step, r, rows, additive);
        }
    }

    /// <summary>dV (and dK) += the update of keys j0 + from .. j0 + from + height - 1 over pass rows r .. rows - 1.</summary>
    private static void Update(AttentionTiling t, in AttentionKernels kernels, in AttentionBuffers b, int j0, int from, int height,
        int r, int rows, bool additive)
    {
        int bc = t.KeyBlock, dimPad = t.DimPad;
        kernels.Transposed(b.Prob + r * bc + from, bc, rows - r, b.OutGrad + r * dimPad, dimPad,
            b.ValueGrad + (j0 + from) * dimPad, dimPad, height, dimPad);
        if (!additive)
        {
            kernels.Transposed(b.ScoreGrad + r * bc + from, bc, rows - r, b.Query + r * dimPad, dimPad,
                b.KeyGrad + (j0 + from) * dimPad, dimPad, height, dimPad);
        }
    }

    /// <summary>
    /// The additive score's gradient for one key block, vectorised over d: th = tanh(q_r + k_j), u = dS_rj · v ∘ (1 - th²);
    /// dQ_r += u, dK_j += u, dv += dS_rj · th, over each row's visible keys. Per row and vector of d, the dQ and dv sums
    /// stay in registers across the keys.
    /// </summary>
    private static void AdditiveGradient(AttentionTiling t, in AttentionBuffers b, int j0, int firstRow, int rows, int* limit)
    {
        int bc = t.KeyBlock, dimPad = t.DimPad;
        float* keys = b.Keys;
        TVec one = TOps.Create(1f);
        for (int r = firstRow; r < rows; r++)
        {
            int jEnd = Math.Min(bc, limit[r] - j0);
            float* ds = b.ScoreGrad + r * bc;
            for (int c = 0; c < dimPad; c += TOps.Width)
            {
                TVec qv = TOps.Load(b.Query + r * dimPad + c), vv = TOps.Load(b.AdditiveV + c);
                TVec dqv = TOps.Create(0f), dvv = TOps.Create(0f);
                for (int j = 0; j < jEnd; j++)
                {
                    TVec g = TOps.Create(ds[j]);
                    TVec th = VectorMath<TOps, TVec>.Tanh(TOps.Add(qv, TOps.Load(keys + (j0 + j) * dimPad + c)));
                    dvv = TOps.MultiplyAdd(g, th, dvv);
                    TVec u = TOps.Multiply(TOps.Multiply(g, vv), TOps.Subtract(one, TOps.Multiply(th, th)));
                    dqv = TOps.Add(dqv, u);
                    float* dk = b.KeyGrad + (j0 + j) * dimPad + c;
                    TOps.Store(TOps.Add(TOps.Load(dk), u), dk);
                }
                float* dqr = b.QueryGrad + r * dimPad + c;
                TOps.Store(TOps.Add(TOps.Load(dqr), dqv), dqr);
                TOps.Store(TOps.Add(TOps.Load(b.AdditiveVGrad + c), dvv), b.AdditiveVGrad + c);
            }
        }
    }
}
