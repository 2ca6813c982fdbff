using System.Collections.Generic;
using AttnGen.Generator.Emit.Shell;
using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit
{
    /// <summary>All files of one layer: the shell and one file per kernel set (the scalar profile, and each selected vector path).</summary>
    internal static class LayerEmitter
    {
        /// <param name="plan">The layer.</param>
        /// <param name="stem">The hint-name stem of its files (<see cref="HintNames.Stem"/>).</param>
        /// <param name="selection">The vector paths to generate.</param>
        public static IEnumerable<(string HintName, string Source)> Emit(KernelPlan plan, string stem, InstructionSetSelection selection)
        {
            yield return (stem + ".g.cs", LayerShellEmitter.Emit(plan, selection));
            // Every path from the one template: the scalar profile always, then each selected vector path.
            yield return (stem + "." + IsaProfile.Scalar.EnumName + ".g.cs", PathKernelEmitter.Emit(plan, IsaProfile.Scalar));
            foreach (IsaProfile isa in selection.Profiles)
            {
                yield return (stem + "." + isa.EnumName + ".g.cs", PathKernelEmitter.Emit(plan, isa));
            }
        }
    }
}
