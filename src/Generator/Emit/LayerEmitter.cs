using System.Collections.Generic;
using AttnGen.Generator.Emit.Shell;
using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit
{
    /// <summary>All files of one layer: the shell and one file per kernel set (scalar, and each selected vector path).</summary>
    internal static class LayerEmitter
    {
        public static IEnumerable<(string HintName, string Source)> Emit(KernelPlan plan, InstructionSetSelection selection)
        {
            string stem = plan.Spec.FullName;
            yield return (stem + ".g.cs", LayerShellEmitter.Emit(plan, selection));
            yield return (stem + ".Scalar.g.cs", ScalarKernelEmitter.Emit(plan));
            foreach (IsaProfile isa in selection.Profiles)
            {
                yield return (stem + "." + isa.EnumName + ".g.cs", VectorKernelEmitter.Emit(plan, isa));
            }
        }
    }
}
