using System.Collections.Generic;
using AttnGen.Generator.Emit.Kernels.Template;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Vector
{
    /// <summary>
    /// Emits one vector path's <c>BackwardCore__{isa}</c>, the FlashAttention-2 backward of the attention core that
    /// <c>BackwardSequence__{isa}</c> (<see cref="BackwardSequenceEmitter"/>) calls between the projections' backward,
    /// and the work-area layout its tiles use.
    /// Per key/value head, keys and values are packed so every inner loop is a unit-stride vector load; per query
    /// head and tile of Br rows, key blocks of Bc recompute P = e^(S - LSE) from the saved row log-sum-exp and
    /// accumulate dV += Pᵀ·dO, dS = P ∘ (dP - Δ), dK += dSᵀ·Q and dQ += dS·K (the additive score's gradient
    /// instead of the last two). Nothing is ever S x S: the work area is O(S·HeadDim) per head.
    /// </summary>
    /// <remarks>
    /// Tiles: Br = ScoreRows query rows by Bc = KeyBlock keys (fewer for a shorter key sequence, as in the
    /// forward): the forward's attention tile, so the register budgets are the forward's (see <see cref="IsaProfile.Vector"/>):
    /// <list type="bullet">
    /// <item>S = Q·Kᵀ and dP = dO·Vᵀ: Br x ScoreVectors accumulators + ScoreVectors key (or value) vectors + 1
    /// broadcast: AVX-512 6x4: 24 + 4 + 1 = 29 of 32 zmm; AVX2 6x2: 12 + 2 + 1 = 15 of 16 ymm; 128-bit 4x4:
    /// 16 + 4 + 1 = 21 (Neon has 32 q registers, SSE spills a little, a fallback there).</item>
    /// <item>dV += Pᵀ·dO and dK += dSᵀ·Q: the projection backward's dW tile (GemmRows keys x PanelWidth columns of
    /// accumulators, the reduction over the tile's query rows).</item>
    /// <item>dQ += dS·K: the forward's P·V tile, PvRows x PvVectors accumulators + PvVectors key vectors + 1.</item>
    /// </list>
    /// P and dS of one tile are Br x Bc floats each (3 KB on AVX-512), the dK and dV rows of one key block
    /// Bc x HeadDim: all of it stays in L1 while the tile works on it.
    /// </remarks>
    internal static class VectorBackwardEmitter
    {
        /// <summary>
        /// The work-area constants of the vector backward, after <c>WorkTiles</c>, sized for the largest path,
        /// ending with <c>WorkTilesLength</c>.
        /// </summary>
        public static void EmitWorkConstants(SourceWriter w, KernelPlan plan)
        {
            LayerSpec s = plan.Spec;
            int keyPad = 0, dimPad = 0, rows = 0, block = 0;
            foreach (IsaProfile isa in IsaProfile.Vector)
            {
                var t = new VectorTiling(plan, isa);
                keyPad = System.Math.Max(keyPad, t.KeyPad);
                dimPad = System.Math.Max(dimPad, t.DimPad);
                rows = System.Math.Max(rows, t.QueryRows);
                block = System.Math.Max(block, t.KeyBlock);
            }
            w.Line($"// Vector backward tiles, sized for the largest path: per key/value head Kᵀ and Vᵀ in key blocks ({Inv(keyPad)} keys),");
            w.Line($"// K rows and the dK, dV accumulators [{Inv(keyPad)}, {Inv(dimPad)}]; per query tile the Q, dO and dQ rows");
            w.Line($"// [{Inv(rows)}, {Inv(dimPad)}], P and dS [{Inv(rows)}, {Inv(block)}]{(plan.IsAdditive ? $"; additive v and its gradient [{Inv(dimPad)}]" : "")}.");
            var parts = new List<(string Name, int Length)>
            {
                ("WorkTileKeysT", s.HeadDim * keyPad),
                ("WorkTileValuesT", s.HeadDim * keyPad),
                ("WorkTileKeys", keyPad * dimPad),
                ("WorkTileKeyGrad", keyPad * dimPad),
                ("WorkTileValueGrad", keyPad * dimPad),
                ("WorkTileQuery", rows * dimPad),
                ("WorkTileOutGrad", rows * dimPad),
                ("WorkTileQueryGrad", rows * dimPad),
                ("WorkTileProb", rows * block),
                ("WorkTileScoreGrad", rows * block),
            };
            if (plan.IsAdditive)
            {
                parts.Add(("WorkTileAdditiveV", dimPad));
                parts.Add(("WorkTileAdditiveVGrad", dimPad));
            }
            int offset = 0;
            foreach ((string name, int length) in parts)
            {
                w.Line($"private const int {name} = WorkTiles + {Inv(offset)};");
                offset += (length + 15) / 16 * 16;
            }
            w.Line($"private const int WorkTilesLength = {Inv(offset)};");
        }

        /// <summary><c>BackwardCore__{isa}</c> and the tile it runs (<see cref="VectorBackwardTileEmitter"/>).</summary>
        public static void Emit(SourceWriter w, KernelPlan plan, KernelSet kernels)
        {
            LayerSpec s = plan.Spec;
            IsaProfile isa = kernels.Syntax.Isa;
            var t = new VectorTiling(plan, isa);
            int br = t.QueryRows, bc = t.KeyBlock, keyPad = t.KeyPad, dimPad = t.DimPad;

            w.Line($"// BackwardCore__{isa.Suffix}: per key/value head Kᵀ and Vᵀ packed in {Inv(keyPad / bc)} blocks of [{Inv(s.HeadDim)}, {Inv(bc)}] (score and dP tiles),");
            w.Line(t.InPlace
                ? $"// K rows read in place (dQ += dS·K), dK and dV accumulated in [{Inv(keyPad)}, {Inv(dimPad)}]; per query head of the group, tiles of"
                : $"// K rows packed [{Inv(keyPad)}, {Inv(dimPad)}] (dQ += dS·K), dK and dV accumulated in [{Inv(keyPad)}, {Inv(dimPad)}]; per query head of the group, tiles of");
            w.Line($"// {Inv(br)} rows ({Inv(t.FullTiles)} whole{(t.LastRows > 0 ? $", then one of {Inv(t.LastRows)}" : "")}) walk the visible key blocks of {Inv(bc)}.");
            using (w.Open($"private static unsafe void BackwardCore__{isa.Suffix}(float* q, float* k, float* v, float* o, float* dO, float* dq, float* dk, float* dv, float* lse, float* parameters, float* grad, int validLength, float* work)"))
            {
                if (plan.IsAdditive)
                {
                    w.Line("float* additiveV = parameters + AdditiveVOffset;");
                    w.Line("float* additiveVGrad = grad + AdditiveVOffset;");
                }
                else
                {
                    w.Line("_ = parameters; _ = grad;");
                }
                w.Line("float* dkAcc = work + WorkTileKeyGrad;");
                w.Line("float* dvAcc = work + WorkTileValueGrad;");
                w.Line("// Only the first HeadDim floats of a tile row are ever written: the padding stays zero and adds nothing.");
                w.Line($"new global::System.Span<float>(work + WorkTileQuery, {Inv(br * dimPad)}).Clear();");
                w.Line($"new global::System.Span<float>(work + WorkTileOutGrad, {Inv(br * dimPad)}).Clear();");
                if (plan.IsAdditive)
                {
                    w.Line("float* va = work + WorkTileAdditiveV;");
                    w.Line("float* dva = work + WorkTileAdditiveVGrad;");
                    w.Line($"new global::System.Span<float>(va, {Inv(dimPad)}).Clear();");
                }
                using (w.Open("for (int g = 0; g < KvHeads; g++)"))
                {
                    w.Line($"AgSupport.PackKeyBlocks(k + g * HeadDim, KvWidth, KvSeqLen, HeadDim, {Inv(keyPad)}, {Inv(bc)}, work + WorkTileKeysT);");
                    w.Line($"AgSupport.PackKeyBlocks(v + g * HeadDim, KvWidth, KvSeqLen, HeadDim, {Inv(keyPad)}, {Inv(bc)}, work + WorkTileValuesT);");
                    if (t.InPlace)
                    {
                        w.Line("float* kr = k + g * HeadDim;");
                    }
                    else
                    {
                        w.Line("float* kr = work + WorkTileKeys;");
                        w.Line($"AgSupport.PackValues(k + g * HeadDim, KvWidth, KvSeqLen, HeadDim, {Inv(keyPad)}, {Inv(dimPad)}, kr);");
                    }
                    w.Line($"new global::System.Span<float>(dkAcc, {Inv(keyPad * dimPad)}).Clear();");
                    w.Line($"new global::System.Span<float>(dvAcc, {Inv(keyPad * dimPad)}).Clear();");
                    w.Line("// The query heads of the group share this head's dK and dV.");
                    using (w.Open("for (int h = g * GroupSize; h < g * GroupSize + GroupSize; h++)"))
                    {
                        if (plan.IsAdditive)
                        {
                            w.Line("AgSupport.CopyRows(additiveV + h * HeadDim, HeadDim, va, HeadDim, 1, HeadDim);");
                            w.Line($"new global::System.Span<float>(dva, {Inv(dimPad)}).Clear();");
                        }
                        using (w.Open($"for (int i0 = 0; i0 < SeqLen; i0 += {Inv(br)})"))
                        {
                            w.Line("int at = i0 * QueryWidth + h * HeadDim;");
                            w.Line($"BackwardTile__{isa.Suffix}(q + at, o + at, dO + at, dq + at, lse + h * SeqLen + i0, i0, global::System.Math.Min({Inv(br)}, SeqLen - i0), validLength, kr, work);");
                        }
                        if (plan.IsAdditive)
                        {
                            w.Line("AgSupport.AddInto(additiveVGrad + h * HeadDim, dva, HeadDim);");
                        }
                    }
                    w.Line("// dK and dV of this key/value head into their rows (each element is written once).");
                    w.Line($"AgSupport.CopyRows(dkAcc, {Inv(dimPad)}, dk + g * HeadDim, KvWidth, KvSeqLen, HeadDim);");
                    w.Line($"AgSupport.CopyRows(dvAcc, {Inv(dimPad)}, dv + g * HeadDim, KvWidth, KvSeqLen, HeadDim);");
                }
            }
            w.Line();
            VectorBackwardTileEmitter.Emit(w, plan, kernels, t);
        }
    }
}
