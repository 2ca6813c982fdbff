using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit
{
    /// <summary>Emits <c>PackWeights</c>: rearranges projection weights into the panels the vector GEMMs read.</summary>
    internal static class PackEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan)
        {
            w.Line("// Rebuilds the packed weight panels after the parameters changed.");
            using (w.Open("private void PackWeights()"))
            {
                w.Line("// Every kernel of this layer reads its weights in place: nothing to pack.");
            }
            w.Line();
            _ = plan;
        }
    }
}
