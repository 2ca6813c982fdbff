using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit.Kernels.Scalar
{
    /// <summary>
    /// Emits <c>BackwardCore__scalar</c>: the attention core's backward in the FlashAttention-2 form, probabilities
    /// recomputed from the saved row log-sum-exp (never an S x S matrix), in plain loops.
    /// </summary>
    internal static class ScalarBackwardEmitter
    {
        /// <summary>
        /// <c>BackwardCore__scalar</c>: the attention core's backward, writing dQ, dK and dV (and accumulating the
        /// additive scoring vectors' gradient into grad).
        /// </summary>
        public static void Emit(SourceWriter w, KernelPlan plan)
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
