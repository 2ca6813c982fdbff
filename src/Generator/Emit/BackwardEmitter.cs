using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit
{
    /// <summary>
    /// Emits the backward pass: <c>BackwardCore__scalar</c>, the attention core's backward in the FlashAttention-2
    /// form (probabilities recomputed from the saved row log-sum-exp, never an S x S matrix), and per path
    /// <c>BackwardSequence__{suffix}</c>: the output projection's backward, the core, the input projections' backward.
    /// The projection parts are separate methods so every path's sequence emits them the same way; the vector
    /// paths' cores (<c>BackwardCore__{isa}</c>) come from <see cref="VectorBackwardEmitter"/>.
    /// </summary>
    internal static class BackwardEmitter
    {
        /// <summary>The scalar file's part: the attention core's backward and the scalar path's sequence.</summary>
        public static void EmitScalar(SourceWriter w, KernelPlan plan)
        {
            EmitCoreMethod(w, plan);
            EmitSequence(w, plan, "scalar");
        }

        /// <summary>
        /// <c>BackwardSequence__{suffix}</c>: one sequence's backward with the projection GEMMs of that path
        /// (<c>LinearBackward_*__{suffix}</c>) around the attention core's backward, <c>BackwardCore__{suffix}</c>
        /// (which on a vector path also takes the work area for its tiles).
        /// </summary>
        public static void EmitSequence(SourceWriter w, KernelPlan plan, string suffix, IsaProfile? isa = null)
        {
            LayerSpec s = plan.Spec;
            w.Line($"// BackwardSequence__{suffix}: dY -> dX_q, dX_k, dX_v; parameter gradients accumulate into grad.");
            using (w.Open($"private static unsafe void BackwardSequence__{suffix}(float* saved, float* dy, float* dxq, float* dxk, float* dxv, float* parameters, float* grad, float* work, int validLength)"))
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
                }
                else
                {
                    w.Line("// No projections: q, k, v are the inputs, the context is the output, and their gradients are the results.");
                    w.Line("float* q = xq, k = xk, v = xv, c = saved + TrainOutput;");
                    w.Line("float* dc = dy, dq = dxq, dk = dxk, dv = dxv;");
                    w.Line("_ = work;");
                }
                w.Line();
                w.Line("// Attention core: dC -> dQ, dK, dV (overwritten)");
                w.Line($"BackwardCore__{suffix}(q, k, v, c, dc, dq, dk, dv, lse, parameters, grad, validLength{(isa is null ? "" : ", work")});");
                if (s.Projections)
                {
                    w.Line();
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
            w.Line("// Output projection: dC = dY · W_o; dW_o += dYᵀ · C; db_o += Σ_rows dY");
            w.Line($"{plan.OutputProjection!.BackwardKernelName}__{suffix}(dy, c, parameters + OutProjWeightOffset, grad + OutProjWeightOffset{(plan.Spec.Bias ? ", grad + OutProjBiasOffset" : "")}, dc);");
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
                w.Line($"{shape.BackwardKernelName}__{suffix}({gradient}, {input}, parameters + {weight}, grad + {weight}{(bias ? $", grad + InProjBiasOffset{biasRows}" : "")}, {inputGradient});");
            }

            w.Line("// Input projections: dX = dQ · W; dW += dQᵀ · X; db += Σ_rows dQ (and the same for k and v)");
            Call(plan.QueryProjection!, "dq", "xq", "", "", "dxq");
            Call(plan.KvProjection!, "dk", "xk", " + QueryWidth * ModelDim", " + QueryWidth", "dxk");
            Call(plan.KvProjection!, "dv", "xv", " + (QueryWidth + KvWidth) * ModelDim", " + QueryWidth + KvWidth", "dxv");
        }

        /// <summary>
        /// <c>BackwardCore__scalar</c>: the attention core's backward, writing dQ, dK and dV (and accumulating the
        /// additive scoring vectors' gradient into grad).
        /// </summary>
        private static void EmitCoreMethod(SourceWriter w, KernelPlan plan)
        {
            LayerSpec s = plan.Spec;
            w.Line("// BackwardCore__scalar, per head and query row: P_ij = exp(S_ij - LSE_i) recomputed from the saved log-sum-exp;");
            w.Line("// Δ_i = dO_i · O_i; dV_j += P_ij dO_i; dS_ij = P_ij (dO_i · V_j - Δ_i); dQ_i += dS_ij ∂S/∂q; dK_j += dS_ij ∂S/∂k.");
            using (w.Open("private static unsafe void BackwardCore__scalar(float* q, float* k, float* v, float* c, float* dc, float* dq, float* dk, float* dv, float* lse, float* parameters, float* grad, int validLength)"))
            {
                if (!plan.IsAdditive)
                {
                    w.Line("_ = parameters; _ = grad;");
                }
                w.Line("new global::System.Span<float>(dq, SeqLen * QueryWidth).Clear();");
                w.Line("new global::System.Span<float>(dk, KvSeqLen * KvWidth).Clear();");
                w.Line("new global::System.Span<float>(dv, KvSeqLen * KvWidth).Clear();");
                EmitCore(w, plan);
            }
            w.Line();
        }

        private static void EmitCore(SourceWriter w, KernelPlan plan)
        {
            LayerSpec s = plan.Spec;
            using (w.Open("for (int h = 0; h < Heads; h++)"))
            {
                w.Line("int g = h / GroupSize;");
                if (plan.IsAdditive)
                {
                    w.Line("float* va = parameters + AdditiveVOffset + h * HeadDim;");
                    w.Line("float* dva = grad + AdditiveVOffset + h * HeadDim;");
                }
                using (w.Open("for (int i = 0; i < SeqLen; i++)"))
                {
                    w.Line("float rowLse = lse[h * SeqLen + i];");
                    w.Line("if (rowLse == float.NegativeInfinity) continue; // no visible key: the output was zero, so is every gradient");
                    w.Line(s.Causal
                        ? "int end = global::System.Math.Min(validLength, i + CausalOffset + 1);"
                        : "int end = validLength;");
                    w.Line("float* qi = q + i * QueryWidth + h * HeadDim;");
                    w.Line("float* dqi = dq + i * QueryWidth + h * HeadDim;");
                    w.Line("float* oi = c + i * QueryWidth + h * HeadDim;");
                    w.Line("float* doi = dc + i * QueryWidth + h * HeadDim;");
                    w.Line("float delta = 0f;");
                    w.Line("for (int d = 0; d < HeadDim; d++) delta += doi[d] * oi[d];");
                    using (w.Open("for (int j = 0; j < end; j++)"))
                    {
                        w.Line("float* kj = k + j * KvWidth + g * HeadDim;");
                        w.Line("float* vj = v + j * KvWidth + g * HeadDim;");
                        w.Line("float* dkj = dk + j * KvWidth + g * HeadDim;");
                        w.Line("float* dvj = dv + j * KvWidth + g * HeadDim;");
                        w.Line("float score = 0f, dp = 0f;");
                        using (w.Open("for (int d = 0; d < HeadDim; d++)"))
                        {
                            w.Line(plan.IsAdditive
                                ? "score += va[d] * global::System.MathF.Tanh(qi[d] + kj[d]);"
                                : "score += qi[d] * kj[d];");
                            w.Line("dp += doi[d] * vj[d];");
                        }
                        w.Line(plan.HasScale
                            ? "float p = global::System.MathF.Exp(score * ScoreScale - rowLse);"
                            : "float p = global::System.MathF.Exp(score - rowLse);");
                        w.Line("float ds = p * (dp - delta);");
                        using (w.Open("for (int d = 0; d < HeadDim; d++)"))
                        {
                            w.Line("dvj[d] += p * doi[d];");
                            if (plan.IsAdditive)
                            {
                                w.Line("float t = global::System.MathF.Tanh(qi[d] + kj[d]);");
                                w.Line("float dt = ds * va[d] * (1f - t * t);");
                                w.Line("dqi[d] += dt;");
                                w.Line("dkj[d] += dt;");
                                w.Line("dva[d] += ds * t;");
                            }
                            else
                            {
                                string scaled = plan.HasScale ? "ds * ScoreScale" : "ds";
                                w.Line($"dqi[d] += {scaled} * kj[d];");
                                w.Line($"dkj[d] += {scaled} * qi[d];");
                            }
                        }
                    }
                }
            }
        }
    }
}
