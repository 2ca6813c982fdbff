using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit.Kernels
{
    /// <summary>
    /// Emits <c>BackwardSequence__{suffix}</c> for every path: the output projection's backward, the attention core's
    /// backward (<c>BackwardCore__{suffix}</c>, from <see cref="Path.AttentionBackwardEmitter"/>), the input projections'
    /// backward. The projection parts are separate methods so every path's sequence emits them the same way.
    /// Every worker of a shared sequence runs it with its own <c>split</c> and <c>tiles</c> (its own work area, for the
    /// attention tiles): each phase does the worker's share (column blocks of the projections, key/value heads of the
    /// core or, with many workers to few heads, its key blocks and query passes, rows of the rotary turn), and the workers meet between phases; the gradients of the context, q, k and v live
    /// in the shared <c>work</c>.
    /// </summary>
    internal static class BackwardSequenceEmitter
    {
        /// <summary>
        /// <c>BackwardSequence__{suffix}</c>: one sequence's backward with the projection GEMMs of that path
        /// (<c>LinearBackward_*__{suffix}</c>) around the attention core's backward, <c>BackwardCore__{suffix}</c>
        /// (which also takes the work area for its tiles).
        /// </summary>
        public static void Emit(SourceWriter w, KernelPlan plan, IsaProfile isa)
        {
            LayerSpec s = plan.Spec;
            string suffix = isa.Suffix;
            w.Line($"// BackwardSequence__{suffix}: dY -> dX_q, dX_k, dX_v; parameter gradients accumulate into grad.");
            using (w.Open($"private static unsafe void BackwardSequence__{suffix}(float* saved, float* dy, float* dxq, float* dxk, float* dxv, float* parameters, float* grad, float* work, int validLength, float* tiles, global::AttnGen.SequenceSplit split)"))
            {
                w.Line("float* lse = saved + TrainLse;");
                w.Line("float* xq = saved + TrainQuery;");
                w.Line("float* xk = saved + TrainKey;");
                w.Line("float* xv = saved + TrainValue;");
                if (s.Projections)
                {
                    w.Line("float* q = saved + ScratchQuery;");
                    w.Line("float* k = saved + ScratchKey;");
                    w.Line("float* v = saved + ScratchValue;");
                    w.Line("float* c = saved + ScratchContext;");
                    w.Line("float* dc = work + WorkContext;");
                    w.Line("float* dq = work + WorkQuery;");
                    w.Line("float* dk = work + WorkKey;");
                    w.Line("float* dv = work + WorkValue;");
                    w.Line();
                    EmitOutputProjectionBackward(w, plan, suffix);
                    w.Line("split.Sync();");
                }
                else
                {
                    w.Line("// No projections: q, k, v are the inputs, the context is the output, and their gradients are the results.");
                    w.Line("float* q = xq, k = xk, v = xv, c = saved + TrainOutput;");
                    w.Line("float* dc = dy, dq = dxq, dk = dxk, dv = dxv;");
                    w.Line("_ = work;");
                }
                w.Line();
                w.Line("// Attention core: dC -> dQ, dK, dV (overwritten; each worker its share of the key/value heads, or of their key blocks and query passes)");
                w.Line($"BackwardCore__{suffix}(q, k, v, c, dc, dq, dk, dv, lse, parameters, grad, validLength, tiles, split);");
                if (s.Projections)
                {
                    w.Line("split.Sync();");
                    w.Line();
                    RotaryEmitter.EmitRotateBack(w, plan, isa, "dq", "dk");
                    EmitInputProjectionsBackward(w, plan, suffix);
                }
            }
            w.Line();
        }

        /// <summary>
        /// The output projection's backward on path <paramref name="suffix"/>: <c>dc</c> from <c>dy</c>, and the
        /// gradients of W_o and b_o. Expects the locals <c>dy, c, dc, parameters, grad</c>.
        /// </summary>
        public static void EmitOutputProjectionBackward(SourceWriter w, KernelPlan plan, string suffix)
        {
            w.Line("// Output projection: dC = dY · W_o; dW_o += dYᵀ · C; db_o += Σ_rows dY (each worker its share of the column blocks)");
            w.Line($"{plan.OutputProjection!.BackwardKernelName}__{suffix}(dy, c, parameters + OutProjWeightOffset, grad + OutProjWeightOffset{(plan.Spec.Bias ? ", grad + OutProjBiasOffset" : "")}, dc, split);");
        }

        /// <summary>
        /// The input projections' backward on path <paramref name="suffix"/>: <c>dxq, dxk, dxv</c> from
        /// <c>dq, dk, dv</c>, and the gradients of W_in and b_in. Expects the locals
        /// <c>dq, dk, dv, xq, xk, xv, dxq, dxk, dxv, parameters, grad</c>.
        /// </summary>
        public static void EmitInputProjectionsBackward(SourceWriter w, KernelPlan plan, string suffix)
        {
            bool bias = plan.Spec.Bias;
            void Call(LinearShape shape, string gradient, string input, string rows, string biasRows, string inputGradient)
            {
                string weight = $"InProjWeightOffset{rows}";
                w.Line($"{shape.BackwardKernelName}__{suffix}({gradient}, {input}, parameters + {weight}, grad + {weight}{(bias ? $", grad + InProjBiasOffset{biasRows}" : "")}, {inputGradient}, split);");
            }

            w.Line("// Input projections: dX = dQ · W; dW += dQᵀ · X; db += Σ_rows dQ (and the same for k and v; each worker its share of the column blocks)");
            Call(plan.QueryProjection!, "dq", "xq", "", "", "dxq");
            Call(plan.KvProjection!, "dk", "xk", " + QueryWidth * ModelDim", " + QueryWidth", "dxk");
            Call(plan.KvProjection!, "dv", "xv", " + (QueryWidth + KvWidth) * ModelDim", " + QueryWidth + KvWidth", "dxv");
        }
    }
}
