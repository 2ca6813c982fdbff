using AttnGen.Generator.Emit.Kernels.Vector;
using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit.Kernels
{
    /// <summary>
    /// Emits <c>ForwardSequence__{isa}</c>: one sequence through the projections, the attention core and the
    /// output projection, calling that path's kernels (the scalar path passes no profile: it reads the weights in place).
    /// Every worker of the sequence runs it with its own <c>split</c> and <c>tiles</c> (its own scratch, for the
    /// attention tiles): each phase does the worker's share, and the workers meet between phases; q, k, v and the
    /// context live in the shared <c>scratch</c>. The scalar path runs the whole sequence on the first worker.
    /// </summary>
    internal static class ForwardSequenceEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan, string suffix, IsaProfile? isa = null)
        {
            LayerSpec s = plan.Spec;
            string additive = plan.IsAdditive ? ", parameters + AdditiveVOffset" : "";
            string share = isa is null ? "" : ", split";
            w.Line($"// ForwardSequence__{suffix}: one sequence through projections, attention core and output projection.");
            using (w.Open($"private static unsafe void ForwardSequence__{suffix}(float* query, float* key, float* value, float* output, int validLength, float* parameters, float* packed, float* scratch, float* lse, float* tiles, global::AttnGen.SequenceSplit split)"))
            {
                if (isa is null)
                {
                    w.Line("// The scalar path runs the whole sequence on the first of its workers.");
                    w.Line("if (split.Part != 0) return;");
                    if (s.Rotary)
                    {
                        w.Line("split = global::AttnGen.SequenceSplit.Whole; // the rotation below then turns every row");
                    }
                    w.Line("_ = tiles;");
                }
                if (s.Projections)
                {
                    string bias(string offset) => s.Bias ? $", parameters + InProjBiasOffset{offset}" : "";
                    w.Line("float* q = scratch + ScratchQuery;");
                    w.Line("float* k = scratch + ScratchKey;");
                    w.Line("float* v = scratch + ScratchValue;");
                    w.Line("float* context = scratch + ScratchContext;");
                    w.Line();
                    w.Line(isa is null
                        ? "// q = query · W_qᵀ + b_q;  k = key · W_kᵀ + b_k;  v = value · W_vᵀ + b_v"
                        : "// q = query · W_qᵀ + b_q;  k = key · W_kᵀ + b_k;  v = value · W_vᵀ + b_v (each worker its share of the panels)");
                    if (isa is null)
                    {
                        w.Line("_ = packed; // the scalar path reads the weights in place");
                        w.Line($"{plan.QueryProjection!.KernelName}__{suffix}(query, parameters + InProjWeightOffset{bias("")}, q);");
                        w.Line($"{plan.KvProjection!.KernelName}__{suffix}(key, parameters + InProjWeightOffset + QueryWidth * ModelDim{bias(" + QueryWidth")}, k);");
                        w.Line($"{plan.KvProjection!.KernelName}__{suffix}(value, parameters + InProjWeightOffset + (QueryWidth + KvWidth) * ModelDim{bias(" + QueryWidth + KvWidth")}, v);");
                    }
                    else
                    {
                        PackedOffsets o = PackedOffsets.For(plan, isa);
                        w.Line($"{plan.QueryProjection!.KernelName}__{suffix}(query, packed + {EmitCommon.Inv(o.Query)}, q, split);");
                        w.Line($"{plan.KvProjection!.KernelName}__{suffix}(key, packed + {EmitCommon.Inv(o.Key)}, k, split);");
                        w.Line($"{plan.KvProjection!.KernelName}__{suffix}(value, packed + {EmitCommon.Inv(o.Value)}, v, split);");
                        w.Line("split.Sync();");
                    }
                    w.Line();
                    RotaryEmitter.EmitRotate(w, plan, isa, "q", "k");
                    w.Line(isa is null
                        ? "// context = softmax(score(q, k)) · v, per head"
                        : "// context = softmax(score(q, k)) · v, per head (each worker its share of the heads' query tiles)");
                    w.Line($"Attention__{suffix}(q, k, v, context, validLength{additive}, {(isa is null ? "scratch" : "tiles")}, lse{share});");
                    if (isa is not null)
                    {
                        w.Line("split.Sync();");
                    }
                    w.Line();
                    w.Line("// output = context · W_oᵀ + b_o");
                    w.Line(isa is null
                        ? $"{plan.OutputProjection!.KernelName}__{suffix}(context, parameters + OutProjWeightOffset{(s.Bias ? ", parameters + OutProjBiasOffset" : "")}, output);"
                        : $"{plan.OutputProjection!.KernelName}__{suffix}(context, packed + {EmitCommon.Inv(PackedOffsets.For(plan, isa).Output)}, output, split);");
                }
                else
                {
                    w.Line("// output = softmax(score(query, key)) · value, per head (no projections)");
                    w.Line("_ = packed;");
                    if (isa is not null)
                    {
                        w.Line("_ = scratch;");
                    }
                    w.Line($"Attention__{suffix}(query, key, value, output, validLength{additive}, {(isa is null ? "scratch" : "tiles")}, lse{share});");
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
