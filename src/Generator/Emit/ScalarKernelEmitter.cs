using System.Collections.Generic;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit
{
    /// <summary>Emits the scalar kernels: the fallback path, and the reference the vector paths are held to.</summary>
    internal static class ScalarKernelEmitter
    {
        public static string Emit(KernelPlan plan)
        {
            var w = new SourceWriter();
            var blocks = Begin(w, plan, "scalar kernels");
            w.Line("// ---- Scalar kernels: plain C# loops, every bound a constant ----");
            w.Line();
            var emitted = new HashSet<LinearShape>();
            foreach (LinearShape? shape in new[] { plan.QueryProjection, plan.KvProjection, plan.OutputProjection })
            {
                if (shape is not null && emitted.Add(shape))
                {
                    ProjectionEmitter.EmitScalar(w, shape);
                    ProjectionEmitter.EmitScalarBackward(w, shape);
                }
            }
            AttentionEmitter.EmitScalar(w, plan);
            SequenceEmitter.Emit(w, plan, "scalar");
            BackwardEmitter.EmitScalar(w, plan);
            End(blocks);
            return w.ToString().TrimEnd('\n') + "\n";
        }
    }
}
