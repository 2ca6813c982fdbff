using System.Collections.Generic;
using AttnGen.Generator.Emit.Kernels.Template;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Path
{
    /// <summary>
    /// Emits one path's file: the weight packing, the projection GEMMs and their backward, the fused attention core
    /// and the per-sequence forward and backward drivers, then every register-tile kernel they call, each once
    /// (<see cref="KernelSet"/>), all rendered from the same templates for every <see cref="IsaProfile"/>: the vector
    /// paths and the scalar one (<see cref="IsaProfile.Scalar"/>, width 1) alike.
    /// </summary>
    internal static class PathKernelEmitter
    {
        public static string Emit(KernelPlan plan, IsaProfile isa)
        {
            var w = new SourceWriter();
            var syntax = new VectorSyntax(isa);
            var kernels = new KernelSet(syntax);
            var blocks = Begin(w, plan, $"{isa.EnumName} kernels", usings: syntax.Aliases, nullable: false);
            w.Line(isa.Width == 1
                ? $"// ---- {isa.EnumName} kernels: the register-tile template at width 1 (one float per vector); tiles from IsaProfile ----"
                : $"// ---- {isa.EnumName} kernels: {Inv(isa.Width)} floats per vector; tiles from IsaProfile ----");
            w.Line();
            if (plan.Spec.Projections)
            {
                WeightPackEmitter.Emit(w, plan, isa);
                var emitted = new HashSet<LinearShape>();
                foreach (LinearShape? shape in new[] { plan.QueryProjection, plan.KvProjection, plan.OutputProjection })
                {
                    if (shape is not null && emitted.Add(shape))
                    {
                        ProjectionEmitter.Emit(w, shape, kernels);
                        ProjectionBackwardEmitter.Emit(w, shape, kernels);
                    }
                }
            }
            AttentionCoreEmitter.Emit(w, plan, kernels);
            ForwardSequenceEmitter.Emit(w, plan, isa);
            BackwardSequenceEmitter.Emit(w, plan, isa);
            AttentionBackwardEmitter.Emit(w, plan, isa);
            if (plan.Spec.KvCache)
            {
                DecodeRowsEmitter.Emit(w, plan, isa, kernels);
            }
            w.Line("// ---- Register-tile kernels (Emit/Kernels/Template), each emitted once for every product that uses it ----");
            w.Line();
            kernels.EmitAll(w);
            End(blocks);
            return w.ToString().TrimEnd('\n') + "\n";
        }
    }
}
