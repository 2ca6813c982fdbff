using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Path
{
    /// <summary>Emits <c>PackWeights__{isa}</c>: the projection weights and biases into the panels the Gemm tiles read.</summary>
    internal static class WeightPackEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan, IsaProfile isa)
        {
            LayerSpec s = plan.Spec;
            PackedOffsets o = PackedOffsets.For(plan, isa);
            int nr = isa.PanelWidth;
            string bias(string offset) => s.Bias ? $"parameters + InProjBiasOffset{offset}" : "null";
            w.Line($"// Packs W_q, W_k, W_v and W_o (with their biases) into panels of {Inv(nr)} columns.");
            using (w.Open($"private static unsafe void PackWeights__{isa.Suffix}(float* parameters, float* packed)"))
            {
                w.Line($"AgSupport.PackPanels(parameters + InProjWeightOffset, {bias("")}, QueryWidth, ModelDim, {Inv(nr)}, packed + {Inv(o.Query)});");
                w.Line($"AgSupport.PackPanels(parameters + InProjWeightOffset + QueryWidth * ModelDim, {bias(" + QueryWidth")}, KvWidth, ModelDim, {Inv(nr)}, packed + {Inv(o.Key)});");
                w.Line($"AgSupport.PackPanels(parameters + InProjWeightOffset + (QueryWidth + KvWidth) * ModelDim, {bias(" + QueryWidth + KvWidth")}, KvWidth, ModelDim, {Inv(nr)}, packed + {Inv(o.Value)});");
                w.Line($"AgSupport.PackPanels(parameters + OutProjWeightOffset, {(s.Bias ? "parameters + OutProjBiasOffset" : "null")}, ModelDim, QueryWidth, {Inv(nr)}, packed + {Inv(o.Output)});");
            }
            w.Line();
        }
    }
}
