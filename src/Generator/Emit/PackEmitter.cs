using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit
{
    /// <summary>Emits <c>PackWeights</c>: rearranges projection weights into the panels the vector GEMMs read.</summary>
    internal static class PackEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan)
        {
            w.Line("// Rebuilds the packed weight panels for the current path after the parameters or the path changed.");
            using (w.Open("private unsafe void PackWeights()"))
            {
                w.Line($"float* packed = (_packed ??= new global::AttnGen.AlignedBuffer({EmitCommon.Inv(plan.PackedLength)})).Pointer;");
                if (!plan.Spec.Projections)
                {
                    w.Line("// No projections: the attention core reads its inputs directly, nothing to pack.");
                    w.Line("_ = packed;");
                }
                else
                {
                    foreach (IsaProfile isa in IsaProfile.Vector)
                    {
                        using (w.Open($"if (_isa >= global::AttnGen.KernelIsa.{isa.EnumName} && {isa.SupportCheck})"))
                        {
                            w.Line($"PackWeights__{isa.Suffix}(_parameters.Pointer, packed);");
                            w.Line("return;");
                        }
                    }
                    w.Line("// The scalar path reads the weights in place.");
                }
            }
            w.Line();
        }
    }
}
