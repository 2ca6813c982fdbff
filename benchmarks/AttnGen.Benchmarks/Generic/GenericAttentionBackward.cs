using System.Runtime.Intrinsics;

namespace AttnGen.Benchmarks.Generic;

/// <summary>
/// The backward of <see cref="GenericAttention"/>, written once for runtime shapes: FlashAttention-2's backward
/// (probabilities recomputed from the forward's row log-sum-exp, never an S x S matrix). Per (sequence, head):
/// <c>Δ_i = dO_i · O_i</c>; then for each block of keys (four vectors wide, as the forward), with its dK and dV
/// accumulators in L1, for each block of <see cref="QueryBlock"/> query rows: <c>S = Q·Kᵀ·scale</c> and
/// <c>dP = dO·Vᵀ</c> by the forward's 4-row score tile, <c>P = exp(S − LSE)</c>, <c>dS = P ∘ (dP − Δ)</c>, then
/// <c>dV += Pᵀ·dO</c>, <c>dK += dSᵀ·Q·scale</c> and <c>dQ += dS·K·scale</c> by one broadcast-FMA product
/// (<see cref="GenericProduct"/>). Causal: key blocks skip the query rows above them, diagonal tiles are masked.
/// </summary>
public sealed unsafe class GenericAttentionBackward
{
    /// <summary>Query rows whose probabilities are held at once for the three products.</summary>
    public const int QueryBlock = 64;

    private const int RowBlock = GenericAttention.RowBlock;
    private const int KeyVectors = 4;

    private readonly GenericAttention _forward;
    private readonly ScratchPool _scratch;

    /// <summary>Creates the backward of <paramref name="forward"/> (whose log-sum-exp it reads), for the same shape.</summary>
    public GenericAttentionBackward(GenericAttention forward)
    {
        _forward = forward;
        _scratch = new ScratchPool(Layout.For(SeqLen, HeadDim, GenericAttention.VectorCount).Length);
    }

    private int Heads => _forward.Heads;

    private int SeqLen => _forward.SeqLen;

    private int HeadDim => _forward.HeadDim;

    private bool Causal => _forward.Causal;

    private float Scale => _forward.Scale;

    /// <summary>
    /// Gradients of a batch: token-major <c>[batch, SeqLen, Heads * HeadDim]</c> q, k, v, the forward's output o and
    /// its gradient dO, the forward's log-sum-exp <c>[batch, Heads, SeqLen]</c>; dq, dk, dv are overwritten.
    /// </summary>
    public void Backward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> o, ReadOnlySpan<float> dO,
        ReadOnlySpan<float> lse, Span<float> dq, Span<float> dk, Span<float> dv, int batch)
    {
        int width = Heads * HeadDim;
        long length = (long)batch * SeqLen * width;
        if (batch < 1 || q.Length != length || k.Length != length || v.Length != length || o.Length != length || dO.Length != length
            || dq.Length != length || dk.Length != length || dv.Length != length || lse.Length != (long)batch * Heads * SeqLen)
        {
            throw new ArgumentException($"Expected batch >= 1, spans of {length} floats and a log-sum-exp of {(long)batch * Heads * SeqLen}.");
        }
        fixed (float* qp = q, kp = k, vp = v, op = o, dop = dO, lp = lse, dqp = dq, dkp = dk, dvp = dv)
        {
            long stride = (long)SeqLen * width;
            for (int b = 0; b < batch; b++)
            {
                long at = b * stride;
                Sequence(qp + at, kp + at, vp + at, width, op + at, dop + at, width, lp + (long)b * Heads * SeqLen, dqp + at, dkp + at, dvp + at, width);
            }
        }
    }

    /// <summary>
    /// One sequence with explicit row strides: q, k, v rows <paramref name="inputStride"/> apart, o and dO rows
    /// <paramref name="outputStride"/> apart, dq, dk, dv rows <paramref name="gradStride"/> apart (head h at column
    /// h * HeadDim in each); <paramref name="lse"/> is <c>[Heads, SeqLen]</c>.
    /// </summary>
    internal void Sequence(float* q, float* k, float* v, int inputStride, float* o, float* dO, int outputStride, float* lse,
        float* dq, float* dk, float* dv, int gradStride)
    {
        float[] buffer = _scratch.Rent();
        float* scratch = ScratchPool.Aligned(buffer);
        for (int h = 0; h < Heads; h++)
        {
            int column = h * HeadDim;
            var head = new HeadOperands(q + column, k + column, v + column, inputStride, o + column, dO + column, outputStride, lse + (long)h * SeqLen,
                dq + column, dk + column, dv + column, gradStride);
            if (Vector512.IsHardwareAccelerated)
            {
                Head<Vector512<float>, Vector512Ops>(head, scratch);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Head<Vector256<float>, Vector256Ops>(head, scratch);
            }
            else
            {
                Head<Vector128<float>, Vector128Ops>(head, scratch);
            }
        }
        _scratch.Return(buffer);
    }

    /// <summary>One head's rows: pointers at the head's first column, row strides as in <see cref="Sequence"/>.</summary>
    private readonly struct HeadOperands(float* q, float* k, float* v, int inputStride, float* o, float* dO, int outputStride, float* lse,
        float* dq, float* dk, float* dv, int gradStride)
    {
        public float* Q { get; } = q;

        public float* K { get; } = k;

        public float* V { get; } = v;

        public int InputStride { get; } = inputStride;

        public float* O { get; } = o;

        public float* DO { get; } = dO;

        public int OutputStride { get; } = outputStride;

        public float* Lse { get; } = lse;

        public float* DQ { get; } = dq;

        public float* DK { get; } = dk;

        public float* DV { get; } = dv;

        public int GradStride { get; } = gradStride;
    }

    /// <summary>Where each array sits in a head's scratch (offsets in floats, each 64-byte aligned).</summary>
    private readonly record struct Layout(int PaddedHeadDim, int PaddedQueries, int KeyBlock,
        long Query, long OutputGrad, long KeyPanels, long ValuePanels, long Key, long QueryGrad, long KeyGrad, long ValueGrad,
        long Probabilities, long ScoreGrad, long RowLse, long RowDelta, long Length)
    {
        public static Layout For(int seqLen, int headDim, int vectorWidth)
        {
            int keyBlock = KeyVectors * vectorWidth;
            int dp = ScratchPool.RoundUp(headDim, vectorWidth);
            int sp = ScratchPool.RoundUp(seqLen, keyBlock);
            int sq = ScratchPool.RoundUp(seqLen, RowBlock);
            long offset = 0;
            long Next(long floats)
            {
                long at = offset;
                offset += ScratchPool.RoundUp((int)floats, 16);
                return at;
            }
            return new Layout(dp, sq, keyBlock,
                Query: Next((long)sq * dp), OutputGrad: Next((long)sq * dp), KeyPanels: Next((long)dp * sp), ValuePanels: Next((long)dp * sp),
                Key: Next((long)sp * dp), QueryGrad: Next((long)sq * dp), KeyGrad: Next((long)keyBlock * dp), ValueGrad: Next((long)keyBlock * dp),
                Probabilities: Next((long)QueryBlock * keyBlock), ScoreGrad: Next((long)QueryBlock * keyBlock), RowLse: Next(sq), RowDelta: Next(sq),
                Length: offset);
        }
    }

    private void Head<TVec, TOps>(HeadOperands x, float* scratch)
        where TVec : unmanaged
        where TOps : IVectorOps<TVec>
    {
        Layout layout = Layout.For(SeqLen, HeadDim, TOps.Count);
        int dp = layout.PaddedHeadDim, sq = layout.PaddedQueries, bc = layout.KeyBlock;
        float* qs = scratch + layout.Query, dOp = scratch + layout.OutputGrad, kt = scratch + layout.KeyPanels, vt = scratch + layout.ValuePanels;
        float* ks = scratch + layout.Key, dQ = scratch + layout.QueryGrad, dK = scratch + layout.KeyGrad, dV = scratch + layout.ValueGrad;
        float* p = scratch + layout.Probabilities, dS = scratch + layout.ScoreGrad, rowLse = scratch + layout.RowLse, rowDelta = scratch + layout.RowDelta;

        Pack(x, layout, scratch);

        for (int j0 = 0; j0 < SeqLen; j0 += bc)
        {
            int keys = Math.Min(bc, SeqLen - j0);
            new Span<float>(dK, bc * dp).Clear();
            new Span<float>(dV, bc * dp).Clear();
            // Causal: rows above the block's first key see none of it; start at the 4-row tile holding row j0.
            int first = Causal ? j0 / RowBlock * RowBlock : 0;
            for (int i0 = first; i0 < sq; i0 += QueryBlock)
            {
                int rows = Math.Min(QueryBlock, sq - i0);
                for (int r0 = 0; r0 < rows; r0 += RowBlock)
                {
                    int m0 = i0 + r0;
                    // S = Q·Kᵀ·scale and dP = dO·Vᵀ for 4 rows x one key block, then P and dS in place.
                    GenericAttention.ScoreTile<TVec, TOps>(qs + (long)m0 * dp, kt + (long)j0 * dp, dp, p + r0 * bc, bc);
                    GenericAttention.ScoreTile<TVec, TOps>(dOp + (long)m0 * dp, vt + (long)j0 * dp, dp, dS + r0 * bc, bc);
                    bool mask = j0 + bc > SeqLen || (Causal && j0 + bc - 1 > m0);
                    GradientTile<TVec, TOps>(p + r0 * bc, dS + r0 * bc, bc, m0, j0, mask, rowLse, rowDelta);
                }
                // dV[keys] += Pᵀ·dO and dK[keys] += dSᵀ·Q·scale (P and dS read transposed), dQ[rows] += dS·K·scale.
                GenericProduct.MultiplyAdd(p, 1, bc, keys, rows, dOp + (long)i0 * dp, dp, dV, dp, dp);
                GenericProduct.MultiplyAdd(dS, 1, bc, keys, rows, qs + (long)i0 * dp, dp, dK, dp, dp);
                GenericProduct.MultiplyAdd(dS, bc, 1, rows, keys, ks + (long)j0 * dp, dp, dQ + (long)i0 * dp, dp, dp);
            }
            for (int c = 0; c < keys; c++)
            {
                new ReadOnlySpan<float>(dK + (long)c * dp, HeadDim).CopyTo(new Span<float>(x.DK + (long)(j0 + c) * x.GradStride, HeadDim));
                new ReadOnlySpan<float>(dV + (long)c * dp, HeadDim).CopyTo(new Span<float>(x.DV + (long)(j0 + c) * x.GradStride, HeadDim));
            }
        }
        for (int i = 0; i < SeqLen; i++)
        {
            new ReadOnlySpan<float>(dQ + (long)i * dp, HeadDim).CopyTo(new Span<float>(x.DQ + (long)i * x.GradStride, HeadDim));
        }
    }

    /// <summary>
    /// Q·scale and dO as <c>[sq, dp]</c>, K·scale as <c>[sp, dp]</c>, K and V transposed into key panels
    /// <c>[dp, keyBlock]</c> (the forward's layout, for the score tile), each row's LSE and Δ; zero padded (padded
    /// rows get LSE = +inf, so their probabilities are 0), dQ zeroed.
    /// </summary>
    private void Pack(HeadOperands x, Layout layout, float* scratch)
    {
        int dp = layout.PaddedHeadDim, sq = layout.PaddedQueries, bc = layout.KeyBlock;
        new Span<float>(scratch, (int)layout.KeyGrad).Clear();
        float* qs = scratch + layout.Query, dOp = scratch + layout.OutputGrad, kt = scratch + layout.KeyPanels, vt = scratch + layout.ValuePanels;
        float* ks = scratch + layout.Key, rowLse = scratch + layout.RowLse, rowDelta = scratch + layout.RowDelta;
        for (int i = 0; i < SeqLen; i++)
        {
            float* qi = x.Q + (long)i * x.InputStride, ki = x.K + (long)i * x.InputStride, vi = x.V + (long)i * x.InputStride;
            float* oi = x.O + (long)i * x.OutputStride, doi = x.DO + (long)i * x.OutputStride;
            long panel = (long)(i / bc) * bc * dp + i % bc; // key i's column in its key panel
            float delta = 0f;
            for (int d = 0; d < HeadDim; d++)
            {
                qs[(long)i * dp + d] = qi[d] * Scale;
                dOp[(long)i * dp + d] = doi[d];
                ks[(long)i * dp + d] = ki[d] * Scale;
                kt[panel + (long)d * bc] = ki[d];
                vt[panel + (long)d * bc] = vi[d];
                delta += doi[d] * oi[d];
            }
            rowLse[i] = x.Lse[i];
            rowDelta[i] = delta;
        }
        for (int i = SeqLen; i < sq; i++)
        {
            rowLse[i] = float.PositiveInfinity;
            rowDelta[i] = 0f;
        }
    }

    /// <summary>
    /// For 4 rows of one key block, in place: P = exp(S − LSE_i) (keys past a row's last visible one masked to 0)
    /// and dS = P ∘ (dP − Δ_i).
    /// </summary>
    private void GradientTile<TVec, TOps>(float* p, float* dS, int keyBlock, int m0, int j0, bool mask, float* rowLse, float* rowDelta)
        where TVec : unmanaged
        where TOps : IVectorOps<TVec>
    {
        int w = TOps.Count;
        for (int r = 0; r < RowBlock; r++)
        {
            int i = m0 + r;
            int last = Causal ? Math.Min(i, SeqLen - 1) : SeqLen - 1;
            TVec lse = TOps.Broadcast(rowLse[i]), delta = TOps.Broadcast(rowDelta[i]);
            float* pr = p + r * keyBlock, dr = dS + r * keyBlock;
            for (int c = 0; c < keyBlock; c += w)
            {
                TVec s = TOps.Load(pr + c);
                if (mask)
                {
                    s = TOps.MaskAfter(s, j0 + c, last);
                }
                TVec pv = TOps.Exp(TOps.Subtract(s, lse));
                TOps.Store(pv, pr + c);
                TOps.Store(TOps.Multiply(pv, TOps.Subtract(TOps.Load(dr + c), delta)), dr + c);
            }
        }
    }
}
