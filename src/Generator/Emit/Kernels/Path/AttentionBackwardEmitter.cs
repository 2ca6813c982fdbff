using System.Collections.Generic;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Path
{
    /// <summary>
    /// Emits one path's <c>BackwardCore__{isa}</c>, the FlashAttention-2 backward of the attention core that
    /// <c>BackwardSequence__{isa}</c> (<see cref="BackwardSequenceEmitter"/>) calls between the projections' backward,
    /// and the work-area layout its tiles use.
    /// Per key/value head, keys and values are packed so every inner loop is a unit-stride vector load; per query
    /// head, passes of four query tiles of Br rows (the runtime's <c>VectorAttentionBackward.TilesPerPass</c>) walk the
    /// key blocks of Bc, recompute P = e^(S - LSE) from the saved row log-sum-exp and accumulate dV += Pᵀ·dO,
    /// dS = P ∘ (dP - Δ), dK += dSᵀ·Q and dQ += dS·K (the additive score's gradient instead of the last two). Nothing
    /// is ever S x S: the work area is O(S·HeadDim) per head.
    /// </summary>
    /// <remarks>
    /// Tiles: Br = ScoreRows query rows by Bc = KeyBlock keys (fewer for a shorter key sequence, as in the
    /// forward): the forward's attention tile, so the register budgets are the forward's (see <see cref="IsaProfile.Vector"/>):
    /// <list type="bullet">
    /// <item>S = Q·Kᵀ and dP = dO·Vᵀ: Br x ScoreVectors accumulators + ScoreVectors key (or value) vectors + 1
    /// broadcast: AVX-512 6x4: 24 + 4 + 1 = 29 of 32 zmm; AVX2 6x2: 12 + 2 + 1 = 15 of 16 ymm; 128-bit 4x4:
    /// 16 + 4 + 1 = 21 (Neon has 32 q registers, SSE spills a little, a fallback there).</item>
    /// <item>dV += Pᵀ·dO and dK += dSᵀ·Q: the projection backward's dW tile narrowed to divide the score tile and the
    /// padded head, up to the profile's BackwardVectors (UpdateRows keys x UpdateColumns columns of accumulators: 8 x 16 on
    /// AVX-512), the reduction over the rows of every tile of the pass that sees the key block (up to 4·Br).</item>
    /// <item>dQ += dS·K: the forward's P·V tile, PvRows x PvVectors accumulators + PvVectors key vectors + 1.</item>
    /// </list>
    /// P and dS of one tile are Br x Bc floats each (1.5 KB on AVX-512, 6 KB for a pass of four tiles), the dK and dV
    /// rows of one key block Bc x HeadDim (16 KB each at HeadDim 64): a pass's P, dS, Q and dO tiles (24 KB) and the
    /// block's keys, values and their gradients do not all fit a 32 KB L1 at once, but each product reads its two
    /// operands and its accumulators while they are there, and the block is read once for the four tiles.
    /// </remarks>
    internal static class AttentionBackwardEmitter
    {
        /// <summary>
        /// <c>BackwardCore__{isa}</c>: the runtime's backward driver with the forward's tiling and kernels, on a worker's
        /// work area (<c>work</c>, its tiles) and its share of the key/value heads (or of their key blocks and query passes).
        /// </summary>
        public static void Emit(SourceWriter w, KernelPlan plan, IsaProfile isa)
        {
            string suffix = isa.Suffix;
            w.Line($"// BackwardCore__{suffix}: the backward driver over this layer's heads and tiles, with the forward's tiling and register tiles.");
            using (w.Open($"private static unsafe void BackwardCore__{suffix}(float* q, float* k, float* v, float* o, float* dO, float* dq, float* dk, float* dv, float* lse, float* parameters, float* grad, int validLength, float* work, global::AttnGen.SequenceSplit split)"))
            {
                w.Line("var buffers = new global::AttnGen.AttentionBuffers");
                w.Line("{");
                w.Line("    KeysT = work + WorkTileKeysT, ValuesT = work + WorkTileValuesT, Keys = work + WorkTileKeys, KeyGrad = work + WorkTileKeyGrad, ValueGrad = work + WorkTileValueGrad,");
                w.Line("    Query = work + WorkTileQuery, OutGrad = work + WorkTileOutGrad, QueryGrad = work + WorkTileQueryGrad, Prob = work + WorkTileProb, ScoreGrad = work + WorkTileScoreGrad,");
                if (plan.IsAdditive)
                {
                    w.Line("    AdditiveV = work + WorkTileAdditiveV, AdditiveVGrad = work + WorkTileAdditiveVGrad,");
                }
                w.Line("};");
                w.Line(plan.IsAdditive
                    ? "global::AttnGen.VectorAttentionBackward<AgOps, AgVecF>.Backward(AttentionTiling__" + suffix + ", AttentionKernels__" + suffix + ", buffers, q, k, v, o, dO, dq, dk, dv, lse, parameters + AdditiveVOffset, grad + AdditiveVOffset, validLength, split);"
                    : "global::AttnGen.VectorAttentionBackward<AgOps, AgVecF>.Backward(AttentionTiling__" + suffix + ", AttentionKernels__" + suffix + ", buffers, q, k, v, o, dO, dq, dk, dv, lse, null, null, validLength, split);");
                if (!plan.IsAdditive)
                {
                    w.Line("_ = parameters; _ = grad;");
                }
            }
            w.Line();
        }
    }
}
