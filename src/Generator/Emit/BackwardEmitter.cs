using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit
{
    /// <summary>
    /// Emits the frame of every path's <c>BackwardSequence__{isa}</c> (the output projection's backward, the
    /// attention core's backward, then the input projections' backward) and the scalar path's core in the
    /// FlashAttention-2 form (probabilities recomputed from the saved row log-sum-exp, never an S x S matrix).
    /// The vector paths' cores come from <see cref="VectorBackwardEmitter"/>.
    /// </summary>
    internal static class BackwardEmitter
    {
        public static void EmitScalar(SourceWriter w, KernelPlan plan)
            => EmitSequence(w, plan, "scalar", () => EmitCore(w, plan));

        /// <summary>
        /// <c>BackwardSequence__{suffix}</c> around an attention-core backward: the output projection's backward
        /// first, the input projections' backward last. Every path shares this frame, so the projection
        /// backward is spelled in one place. The core sees <c>q, k, v, c</c> (saved forward values),
        /// <c>dc</c> (gradient of the attention output), <c>dq, dk, dv</c> (to be written), <c>lse</c>,
        /// <c>parameters</c>, <c>grad</c>, <c>work</c> and <c>validLength</c>.
        /// </summary>
        public static void EmitSequence(SourceWriter w, KernelPlan plan, string suffix, System.Action emitCore)
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
                    w.Line("// Output projection: dC = dY · W_o; dW_o += dYᵀ · C; db_o += Σ_rows dY");
                    w.Line($"global::AttnGen.KernelSupport.LinearBackward(dy, c, parameters + OutProjWeightOffset, grad + OutProjWeightOffset, {(s.Bias ? "grad + OutProjBiasOffset" : "null")}, dc, SeqLen, ModelDim, QueryWidth);");
                }
                else
                {
                    w.Line("// No projections: q, k, v are the inputs, the context is the output, and their gradients are the results.");
                    w.Line("float* q = xq, k = xk, v = xv, c = saved + TrainOutput;");
                    w.Line("float* dc = dy, dq = dxq, dk = dxk, dv = dxv;");
                    w.Line("_ = work;");
                    if (!plan.IsAdditive)
                    {
                        w.Line("_ = parameters; _ = grad;");
                    }
                }
                emitCore();
                if (s.Projections)
                {
                    w.Line();
                    w.Line("// Input projections: dX = dQ · W; dW += dQᵀ · X; db += Σ_rows dQ (and the same for k and v)");
                    string bias(string offset) => s.Bias ? $"grad + InProjBiasOffset{offset}" : "null";
                    w.Line($"global::AttnGen.KernelSupport.LinearBackward(dq, xq, parameters + InProjWeightOffset, grad + InProjWeightOffset, {bias("")}, dxq, SeqLen, QueryWidth, ModelDim);");
                    w.Line($"global::AttnGen.KernelSupport.LinearBackward(dk, xk, parameters + InProjWeightOffset + QueryWidth * ModelDim, grad + InProjWeightOffset + QueryWidth * ModelDim, {bias(" + QueryWidth")}, dxk, KvSeqLen, KvWidth, ModelDim);");
                    w.Line($"global::AttnGen.KernelSupport.LinearBackward(dv, xv, parameters + InProjWeightOffset + (QueryWidth + KvWidth) * ModelDim, grad + InProjWeightOffset + (QueryWidth + KvWidth) * ModelDim, {bias(" + QueryWidth + KvWidth")}, dxv, KvSeqLen, KvWidth, ModelDim);");
                }
            }
            w.Line();
        }

        private static void EmitCore(SourceWriter w, KernelPlan plan)
        {
            LayerSpec s = plan.Spec;
            w.Line("new global::System.Span<float>(dq, SeqLen * QueryWidth).Clear();");
            w.Line("new global::System.Span<float>(dk, KvSeqLen * KvWidth).Clear();");
            w.Line("new global::System.Span<float>(dv, KvSeqLen * KvWidth).Clear();");
            w.Line();
            w.Line("// Attention core, per head and query row: P_ij = exp(S_ij - LSE_i) recomputed from the saved log-sum-exp;");
            w.Line("// Δ_i = dO_i · O_i; dV_j += P_ij dO_i; dS_ij = P_ij (dO_i · V_j - Δ_i); dQ_i += dS_ij ∂S/∂q; dK_j += dS_ij ∂S/∂k.");
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
