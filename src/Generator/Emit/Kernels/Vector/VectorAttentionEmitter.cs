using AttnGen.Generator.Emit.Kernels.Template;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Vector
{
    /// <summary>
    /// Emits <c>Attention__{isa}</c>, the fused attention core of one vector path (FlashAttention-2 shape): per
    /// key/value head, keys are packed transposed in key blocks and values padded (or read in place); per query head,
    /// tiles of Br query rows go to <c>AttentionRows__{isa}</c> (<see cref="VectorAttentionRowsEmitter"/>).
    /// </summary>
    internal static class VectorAttentionEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan, KernelSet kernels)
        {
            IsaProfile isa = kernels.Syntax.Isa;
            var t = new VectorTiling(plan, isa);
            int br = t.QueryRows, bc = t.KeyBlock;
            string additiveParam = plan.IsAdditive ? ", float* additiveV" : "";
            string additiveArg = plan.IsAdditive ? ", additiveV + h * HeadDim" : "";

            w.Line($"// Attention__{isa.Suffix}: keys packed per key/value head in {Inv(t.KeyPad / bc)} blocks of [{Inv(plan.Spec.HeadDim)}, {Inv(bc)}], values [{Inv(t.KeyPad)}, {Inv(t.DimPad)}]{(t.InPlace ? " read in place" : "")};");
            w.Line($"// query tiles of {Inv(br)} rows ({Inv(t.FullTiles)} whole{(t.LastRows > 0 ? ", then one of " + Inv(t.LastRows) : "")}), key blocks of {Inv(bc)}.");
            using (w.Open($"private static unsafe void Attention__{isa.Suffix}(float* q, float* k, float* v, float* context, int validLength{additiveParam}, float* scratch, float* lse)"))
            {
                w.Line("float* kt = scratch + ScratchKeyPack;");
                w.Line("float* o = scratch + ScratchOutTile;");
                w.Line("float* p = scratch + ScratchProbTile;");
                w.Line($"float* qt = scratch + {Inv(plan.ScratchQueryTile)}; // the query tile [Br, {Inv(t.DimPad)}]");
                using (w.Open("for (int g = 0; g < KvHeads; g++)"))
                {
                    w.Line($"AgSupport.PackKeyBlocks(k + g * HeadDim, KvWidth, KvSeqLen, HeadDim, {Inv(t.KeyPad)}, {Inv(bc)}, kt);");
                    if (t.InPlace)
                    {
                        w.Line("float* vg = v + g * HeadDim;");
                    }
                    else
                    {
                        w.Line("float* vg = scratch + ScratchValuePack;");
                        w.Line($"AgSupport.PackValues(v + g * HeadDim, KvWidth, KvSeqLen, HeadDim, {Inv(t.KeyPad)}, {Inv(t.DimPad)}, vg);");
                    }
                    using (w.Open("for (int h = g * GroupSize; h < g * GroupSize + GroupSize; h++)"))
                    {
                        w.Line("float* lh = lse == null ? null : lse + h * SeqLen;");
                        using (w.Open($"for (int i0 = 0; i0 < SeqLen; i0 += {Inv(br)})"))
                        {
                            w.Line($"AttentionRows__{isa.Suffix}(q + i0 * QueryWidth + h * HeadDim, kt, vg, context + i0 * QueryWidth + h * HeadDim, i0, " +
                                $"global::System.Math.Min({Inv(br)}, SeqLen - i0), validLength, o, p, qt, lh == null ? null : lh + i0{additiveArg});");
                        }
                    }
                }
            }
            w.Line();
            VectorAttentionRowsEmitter.Emit(w, plan, kernels, t);
        }
    }
}
