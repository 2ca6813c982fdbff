using System.Collections.Generic;
using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit
{
    /// <summary>All files of one layer: the shell and one file per kernel set.</summary>
    internal static class LayerEmitter
    {
        /// <param name="plan">The layer.</param>
        /// <param name="stem">The hint-name stem of its files (<see cref="HintNames.Stem"/>).</param>
        public static IEnumerable<(string HintName, string Source)> Emit(KernelPlan plan, string stem)
        {
            yield return (stem + ".g.cs", LayerShellEmitter.Emit(plan));
            yield return (stem + ".Scalar.g.cs", ScalarKernelEmitter.Emit(plan));
            foreach (IsaProfile isa in IsaProfile.Vector)
            {
                yield return (stem + "." + isa.EnumName + ".g.cs", VectorKernelEmitter.Emit(plan, isa));
            }
        }
    }
}
