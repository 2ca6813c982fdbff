using System.Collections.Generic;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Scalar
{
    /// <summary>Emits the scalar kernels: the fallback path, and the reference the vector paths are held to.</summary>
    internal static class ScalarKernelEmitter
    {
        public static string Emit(KernelPlan plan)
        {
            var w = new SourceWriter();
            var blocks = Begin(w, plan, "scalar kernels", nullable: false);
            w.Line("// ---- Scalar kernels: plain C# loops, every bound a constant ----");
            w.Line();
            var emitted = new HashSet<LinearShape>();
            foreach (LinearShape? shape in new[] { plan.QueryProjection, plan.KvProjection, plan.OutputProjection })
            {
                if (shape is not null && emitted.Add(shape))
                {
                    ScalarProjectionEmitter.Emit(w, shape);
                    ScalarProjectionEmitter.EmitBackward(w, shape);
                }
            }
            ScalarAttentionEmitter.Emit(w, plan);
            ForwardSequenceEmitter.Emit(w, plan, "scalar");
            ScalarBackwardEmitter.Emit(w, plan);
            BackwardSequenceEmitter.Emit(w, plan, "scalar");
            if (plan.Spec.KvCache)
            {
                DecodeRowsEmitter.EmitScalar(w, plan);
            }
            End(blocks);
            return w.ToString().TrimEnd('\n') + "\n";
        }
    }
}
