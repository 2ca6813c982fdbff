using System.Collections.Generic;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit
{
    /// <summary>
    /// Emits one vector path's file: the weight packing, the projection GEMMs and their backward, the fused
    /// attention core and the per-sequence forward and backward drivers, all instantiated from the same
    /// templates for every <see cref="IsaProfile"/>.
    /// </summary>
    internal static class VectorKernelEmitter
    {
        public static string Emit(KernelPlan plan, IsaProfile isa)
        {
            var w = new SourceWriter();
            var blocks = Begin(w, plan, $"{isa.EnumName} kernels", usings: new VectorSyntax(isa).Aliases);
            w.Line($"// ---- {isa.EnumName} kernels: {Inv(isa.Width)} floats per vector; tiles from IsaProfile ----");
            w.Line();
            if (plan.Spec.Projections)
            {
                EmitPack(w, plan, isa);
                var emitted = new HashSet<LinearShape>();
                foreach (LinearShape? shape in new[] { plan.QueryProjection, plan.KvProjection, plan.OutputProjection })
                {
                    if (shape is not null && emitted.Add(shape))
                    {
                        VectorProjectionEmitter.Emit(w, shape, isa);
                        VectorProjectionBackwardEmitter.Emit(w, shape, isa);
                    }
                }
            }
            VectorMathEmitter.Emit(w, plan, isa);
            VectorAttentionEmitter.Emit(w, plan, isa);
            SequenceEmitter.Emit(w, plan, isa.Suffix, isa);
            BackwardEmitter.EmitSequence(w, plan, isa.Suffix, isa);
            VectorBackwardEmitter.Emit(w, plan, isa);
            End(blocks);
            return w.ToString().TrimEnd('\n') + "\n";
        }

        private static void EmitPack(SourceWriter w, KernelPlan plan, IsaProfile isa)
        {
            LayerSpec s = plan.Spec;
            PackedOffsets o = PackedOffsets.For(plan, isa);
            int nr = isa.PanelWidth;
            string bias(string offset) => s.Bias ? $"parameters + InProjBiasOffset{offset}" : "null";
            w.Line($"// Packs W_q, W_k, W_v and W_o (with their biases) into panels of {Inv(nr)} columns.");
            using (w.Open($"private static unsafe void PackWeights__{isa.Suffix}(float* parameters, float* packed)"))
            {
                w.Line($"global::AttnGen.KernelSupport.PackPanels(parameters + InProjWeightOffset, {bias("")}, QueryWidth, ModelDim, {Inv(nr)}, packed + {Inv(o.Query)});");
                w.Line($"global::AttnGen.KernelSupport.PackPanels(parameters + InProjWeightOffset + QueryWidth * ModelDim, {bias(" + QueryWidth")}, KvWidth, ModelDim, {Inv(nr)}, packed + {Inv(o.Key)});");
                w.Line($"global::AttnGen.KernelSupport.PackPanels(parameters + InProjWeightOffset + (QueryWidth + KvWidth) * ModelDim, {bias(" + QueryWidth + KvWidth")}, KvWidth, ModelDim, {Inv(nr)}, packed + {Inv(o.Value)});");
                w.Line($"global::AttnGen.KernelSupport.PackPanels(parameters + OutProjWeightOffset, {(s.Bias ? "parameters + OutProjBiasOffset" : "null")}, ModelDim, QueryWidth, {Inv(nr)}, packed + {Inv(o.Output)});");
            }
            w.Line();
        }
    }
}
