using System.ComponentModel;

namespace AttnGen;

/// <summary>
/// The attention core's backward on one vector width (FlashAttention-2), the same for every layer: per key/value
/// head, keys and values packed transposed in key blocks; per query head and tile of Br rows, each visible key block
/// recomputes S = (Q·scale)·Kᵀ and dP = dO·Vᵀ (register tiles), P = e^(S - LSE) and dS = P ∘ (dP - Δ) per row
/// (<see cref="SoftmaxRows{TOps, TVec}.Gradient"/>), then dV += Pᵀ·dO, dK += dSᵀ·Q (the transposed tile) and
/// dQ += dS·K (the accumulating tile), or the additive score's gradient. Nothing is ever S x S: the work area is
/// O(S·HeadDim) per head.
/// </summary>
/// <typeparam name="TOps">The width: <see cref="Vector512Ops"/>, <see cref="Vector256Ops"/>, <see cref="Vector128Ops"/>, or <see cref="ScalarOps"/> (the scalar path, one float per vector).</typeparam>
/// <typeparam name="TVec">Its vector type (<see cref="float"/> for <see cref="ScalarOps"/>).</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class VectorAttentionBackward<TOps, TVec>
    where TOps : struct, IVectorOps<TVec>
    where TVec : unmanaged
{
    /// <summary>
    /// One sequence: dQ, dK and dV (overwritten) from the forward's q, k, v, output <paramref name="o"/>, its row
    /// log-sum-exp and the output gradient <paramref name="dO"/>; for additive scoring (<paramref name="additiveV"/> not
    /// null) the gradient of v is added into <paramref name="additiveVGrad"/>.
    /// </summary>
    public static void Backward(AttentionTiling t, in AttentionKernels kernels, in AttentionBuffers buffers,
        float* q, float* k, float* v, float* o, float* dO, float* dq, float* dk, float* dv, float* lse,
        float* additiveV, float* additiveVGrad, int validLength)
    {
        int dimPad = t.DimPad;
        // Only the first HeadDim floats of a tile row are ever written: the padding stays zero and adds nothing.
        new Span<float>(buffers.Query, t.QueryRows * dimPad).Clear();
        new Span<float>(buffers.OutGrad, t.QueryRows * dimPad).Clear();
        if (additiveV != null)
        {
            new Span<float>(buffers.AdditiveV, dimPad).Clear();
        }
        for (int g = 0; g < t.KvHeads; g++)
        {
            KernelSupport.PackKeyBlocks(k + g * t.HeadDim, t.KvWidth, t.KvSeqLen, t.HeadDim, t.KeyPad, t.KeyBlock, buffers.KeysT);
            KernelSupport.PackKeyBlocks(v + g * t.HeadDim, t.KvWidth, t.KvSeqLen, t.HeadDim, t.KeyPad, t.KeyBlock, buffers.ValuesT);
            float* keys = k + g * t.HeadDim;
            int keyStride = t.KvWidth;
            if (!t.InPlace)
            {
                KernelSupport.PackValues(keys, t.KvWidth, t.KvSeqLen, t.HeadDim, t.KeyPad, dimPad, buffers.Keys);
                keys = buffers.Keys;
                keyStride = dimPad;
            }
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
                for (int i0 = 0; i0 < t.SeqLen; i0 += t.QueryRows)
                {
                    int at = i0 * t.QueryWidth + h * t.HeadDim;
                    Tile(t, kernels, buffers, q + at, o + at, dO + at, dq + at, lse + h * t.SeqLen + i0, i0, Math.Min(t.QueryRows, t.SeqLen - i0),
                        validLength, keys, keyStride, additiveV != null);
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

    /// <summary>Query rows i0 .. i0 + n - 1 of one head against every visible key block.</summary>
    private static void Tile(AttentionTiling t, in AttentionKernels kernels, in AttentionBuffers b, float* q, float* o, float* dO, float* dq, float* lse,
        int i0, int n, int validLength, float* keys, int keyStride, bool additive)
    {
        int bc = t.KeyBlock, dimPad = t.DimPad;
        float* delta = stackalloc float[VectorAttention<TOps, TVec>.MaxTileRows];
        float* rowLse = stackalloc float[VectorAttention<TOps, TVec>.MaxTileRows];
        float* ones = stackalloc float[VectorAttention<TOps, TVec>.MaxTileRows];
        int* limit = stackalloc int[VectorAttention<TOps, TVec>.MaxTileRows];
        // Q and dO rows into the tile; Δ_r = dO_r · O_r; the saved LSE_r; limit_r: the keys row r sees (a row that saw
        // no key has LSE = -inf and limit ≤ 0, so its keys are all masked).
        // Q times the scale, as the forward scored it; dO as it is.
        KernelSupport.CopyRows(dO, t.QueryWidth, b.OutGrad, dimPad, n, t.HeadDim);
        for (int r = 0; r < n; r++)
        {
            SoftmaxRows<TOps, TVec>.ScaleInto(q + r * t.QueryWidth, b.Query + r * dimPad, t.HeadDim, t.Scale);
            delta[r] = SoftmaxRows<TOps, TVec>.Dot(b.OutGrad + r * dimPad, o + r * t.QueryWidth, t.HeadDim);
            rowLse[r] = lse[r];
            ones[r] = 1f;
            limit[r] = t.VisibleKeys(i0 + r, validLength);
        }
        new Span<float>(b.QueryGrad, n * dimPad).Clear();
        bool whole = n == t.QueryRows;
        var score = whole ? kernels.Score : kernels.ScoreLast;
        var product = whole ? kernels.Product : kernels.ProductLast;
        var accumulate = whole ? kernels.Accumulate : kernels.AccumulateLast;
        float* init = additive ? b.AdditiveV : KernelSupport.ZeroRow;
        int keyEnd = t.VisibleKeys(i0 + n - 1, validLength); // blocks above the tile's last row are skipped
        for (int j0 = 0; j0 < keyEnd; j0 += bc)
        {
            // The block's keys up to the score tile holding the tile's last visible key, as the forward scored them
            // (a multiple of the dV/dK tile's rows): past them P and dS would be 0.
            int count = t.BlockKeys(keyEnd - j0);
            // S = Q·Kᵀ into Prob and dP = dO·Vᵀ into ScoreGrad.
            score(b.Query, b.KeysT + j0 * t.HeadDim, bc, init, b.Prob, bc, count);
            product(b.OutGrad, b.ValuesT + j0 * t.HeadDim, bc, KernelSupport.ZeroRow, b.ScoreGrad, bc, count);
            for (int r = 0; r < n; r++)
            {
                SoftmaxRows<TOps, TVec>.Gradient(b.Prob + r * bc, b.ScoreGrad + r * bc, count, limit[r] - j0, rowLse[r], delta[r]);
            }
            // dV += Pᵀ·dO for the block's keys (the reduction runs over the tile's n rows).
            kernels.Transposed(b.Prob, bc, n, b.OutGrad, dimPad, b.ValueGrad + j0 * dimPad, dimPad, count, dimPad);
            if (additive)
            {
                AdditiveGradient(t, b, keys, keyStride, j0, n, limit);
                continue;
            }
            // dK += dSᵀ·(Q·scale); dQ += dS·K (times the scale on the way out).
            kernels.Transposed(b.ScoreGrad, bc, n, b.Query, dimPad, b.KeyGrad + j0 * dimPad, dimPad, count, dimPad);
            float* block = keys + j0 * keyStride;
            accumulate(b.ScoreGrad, Math.Min(bc, keyEnd - j0), block, keyStride, ones, b.QueryGrad, dimPad, dimPad);
        }
        for (int r = 0; r < n; r++)
        {
            SoftmaxRows<TOps, TVec>.ScaleInto(b.QueryGrad + r * dimPad, dq + r * t.QueryWidth, t.HeadDim, t.Scale);
        }
    }

    /// <summary>
    /// The additive score's gradient for one key block, vectorised over d: th = tanh(q_r + k_j), u = dS_rj · v ∘ (1 - th²);
    /// dQ_r += u, dK_j += u, dv += dS_rj · th, over each row's visible keys. Per row and vector of d, the dQ and dv sums
    /// stay in registers across the keys.
    /// </summary>
    private static void AdditiveGradient(AttentionTiling t, in AttentionBuffers b, float* keys, int keyStride, int j0, int n, int* limit)
    {
        int bc = t.KeyBlock, dimPad = t.DimPad;
        TVec one = TOps.Create(1f);
        for (int r = 0; r < n; r++)
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
                    TVec th = VectorMath<TOps, TVec>.Tanh(TOps.Add(qv, TOps.Load(keys + (j0 + j) * keyStride + c)));
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
