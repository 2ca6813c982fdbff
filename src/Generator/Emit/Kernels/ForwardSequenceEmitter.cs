using AttnGen.Generator.Emit.Kernels.Path;
using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit.Kernels
{
    /// <summary>
    /// Emits <c>ForwardSequence__{isa}</c>: one sequence through the projections, the attention core and the
    /// output projection, calling that path's kernels on its packed weights (every path, the scalar one too).
    /// Every worker of the sequence runs it with its own <c>split</c> and <c>tiles</c> (its own scratch, for the
    /// attention tiles): each phase does the worker's share, and the workers meet between phases; q, k, v and the
    /// context live in the shared <c>scratch</c>.
    /// </summary>
    internal static class ForwardSequenceEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan, IsaProfile isa)
        {
            LayerSpec s = plan.Spec;
            string suffix = isa.Suffix;
            string additive = plan.IsAdditive ? ", parameters + AdditiveVOffset" : "";
            w.Line($"// ForwardSequence__{suffix}: one sequence through projections, attention core and output projection.");
            using (w.Open($"private static unsafe void ForwardSequence__{suffix}(float* query, float* key, float* value, float* output, int validLength, float* parameters, float* packed, float* scratch, float* lse, float* tiles, global::AttnGen.SequenceSplit split)"))
            {
                if (s.Projections)
                {
                    w.Line("float* q = scratch + ScratchQuery;");
                    w.Line("float* k = scratch + ScratchKey;");
                    w.Line("float* v = scratch + ScratchValue;");
                    w.Line("float* context = scratch + ScratchContext;");
                    w.Line();
                    w.Line("// q = query · W_qᵀ + b_q;  k = key · W_kᵀ + b_k;  v = value · W_vᵀ + b_v (each worker its share of the panels)");
                    PackedOffsets o = PackedOffsets.For(plan, isa);
                    w.Line($"{plan.QueryProjection!.KernelName}__{suffix}(query, packed + {EmitCommon.Inv(o.Query)}, q, split);");
                    w.Line($"{plan.KvProjection!.KernelName}__{suffix}(key, packed + {EmitCommon.Inv(o.Key)}, k, split);");
                    w.Line($"{plan.KvProjection!.KernelName}__{suffix}(value, packed + {EmitCommon.Inv(o.Value)}, v, split);");
                    w.Line("split.Sync();");
                    w.Line();
                    RotaryEmitter.EmitRotate(w, plan, isa, "q", "k");
                    w.Line("// context = softmax(score(q, k)) · v, per head (each worker its share of the heads' query tiles)");
                    w.Line($"Attention__{suffix}(q, k, v, context, validLength{additive}, tiles, lse, split);");
                    w.Line("split.Sync();");
                    w.Line();
                    w.Line("// output = context · W_oᵀ + b_o");
                    w.Line($"{plan.OutputProjection!.KernelName}__{suffix}(context, packed + {EmitCommon.Inv(o.Output)}, output, split);");
                }
                else
                {
                    w.Line("// output = softmax(score(query, key)) · value, per head (no projections)");
                    w.Line("_ = packed;");
                    w.Line("_ = scratch;");
                    w.Line($"Attention__{suffix}(query, key, value, output, validLength{additive}, tiles, lse, split);");
                    if (!plan.IsAdditive)
                    {
                        w.Line("_ = parameters;");
                    }
                }
            }
            w.Line();
        }
    }
}
