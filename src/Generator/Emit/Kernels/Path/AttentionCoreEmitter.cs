using System.Collections.Generic;
using AttnGen.Generator.Emit.Kernels.Template;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Path
{
    /// <summary>
    /// Emits the attention core of one path (vector or scalar): the layer's tiling and the register-tile kernels it hands the
    /// runtime's drivers (<c>VectorAttention</c> and <c>VectorAttentionBackward</c>, written once for every layer), and
    /// <c>Attention__{isa}</c>, which calls the forward driver on a worker's scratch with its share of the query tiles.
    /// </summary>
    internal static class AttentionCoreEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan, KernelSet kernels)
        {
            LayerSpec s = plan.Spec;
            IsaProfile isa = kernels.Syntax.Isa;
            var t = plan.Tiling(isa);
            string suffix = isa.Suffix;

            w.Line($"// The attention core on this path: query tiles of {Inv(t.QueryRows)} rows ({Inv(t.FullTiles)} whole{(t.LastRows > 0 ? ", then one of " + Inv(t.LastRows) : "")}), key blocks of {Inv(t.KeyBlock)},");
            w.Line($"// heads padded to {Inv(t.DimPad)}; values (forward) and keys (backward) copied into padded blocks.");
            w.Line($"private static readonly global::AttnGen.AttentionTiling AttentionTiling__{suffix} = new(Heads, KvHeads, HeadDim, SeqLen, KvSeqLen, " +
                $"{(s.Causal ? "true" : "false")}, {t.Scale}, {Inv(t.QueryRows)}, {Inv(t.KeyBlock)}, {Inv(t.SubTileWidth)}, {Inv(t.ScoreStep)}, {Inv(t.UpdateRows)}, {Inv(t.DimPad)});");
            w.Line();

            var fields = new List<string>();
            void Pair(string field, System.Func<int, TileProduct> tile)
            {
                if (t.FullTiles > 0)
                {
                    fields.Add($"{field} = &{kernels.Use(tile(t.QueryRows))}");
                }
                if (t.LastRows > 0)
                {
                    fields.Add($"{field}Last = &{kernels.Use(tile(t.LastRows))}");
                }
            }
            // Where the score step is narrower than the tile (AVX-512's 64-key tiles), a block's scores stop at the vector
            // holding its last visible key.
            bool narrows = t.ScoreStep < t.SubTileWidth;
            Pair("Score", rows => (plan.IsAdditive
                ? TileProduct.Additive(rows, t.SubTileWidth, s.HeadDim, t.DimPad)
                : TileProduct.Gemm(rows, t.SubTileWidth, s.HeadDim, t.DimPad)) with { Narrows = narrows });
            Pair("Product", rows => TileProduct.Gemm(rows, t.SubTileWidth, s.HeadDim, t.DimPad) with { Narrows = narrows });
            Pair("Accumulate", rows => TileProduct.Scaled(rows, t.ValueColumns, t.KeyBlock));
            fields.Add($"Transposed = &{kernels.Use(TileProduct.Transposed(t.UpdateRows, t.UpdateColumns))}");
            w.Line("// Its register tiles: scores (and the backward's dP), O = alpha ∘ O + P·V (and dQ += dS·K), dV += Pᵀ·dO (and dK += dSᵀ·Q).");
            using (w.Open($"private static readonly unsafe global::AttnGen.AttentionKernels AttentionKernels__{suffix} = new()", "};"))
            {
                foreach (string field in fields)
                {
                    w.Line(field + ",");
                }
            }
            w.Line();

            string additiveParam = plan.IsAdditive ? ", float* additiveV" : "";
            w.Line($"// Attention__{suffix}: the forward driver over this layer's heads and tiles.");
            using (w.Open($"private static unsafe void Attention__{suffix}(float* q, float* k, float* v, float* context, int validLength{additiveParam}, float* scratch, float* lse, global::AttnGen.SequenceSplit split)"))
            {
                w.Line($"var buffers = new global::AttnGen.AttentionBuffers {{ KeysT = scratch + ScratchKeyPack, Values = scratch + ScratchValuePack, Out = scratch + ScratchOutTile, Prob = scratch + ScratchProbTile, Query = scratch + ScratchQueryTile }};");
                w.Line($"global::AttnGen.VectorAttention<AgOps, AgVecF>.Forward(AttentionTiling__{suffix}, AttentionKernels__{suffix}, buffers, q, k, v, context, validLength, {(plan.IsAdditive ? "additiveV" : "null")}, lse, split);");
            }
            w.Line();
        }
    }
}
