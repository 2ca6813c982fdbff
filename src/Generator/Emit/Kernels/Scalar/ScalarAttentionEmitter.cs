using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit.Kernels.Scalar
{
    /// <summary>
    /// Emits <c>Attention__scalar</c>, the fused attention core in plain loops: scores, mask, online softmax and the
    /// weighted sum of values, per head and query row, never materialising the full score matrix.
    /// </summary>
    internal static class ScalarAttentionEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan)
        {
            LayerSpec s = plan.Spec;
            string additiveParam = plan.IsAdditive ? ", float* additiveV" : "";
            w.Line("// Attention__scalar: for each head h and query row i,");
            w.Line("//   context[i, h] = Σ_j softmax_j(score(q[i, h], k[j, h / GroupSize])) · v[j, h / GroupSize]");
            w.Line("// over the visible keys j, computed blockwise (KeyBlock keys at a time) with a running max and sum.");
            using (w.Open($"private static unsafe void Attention__scalar(float* q, float* k, float* v, float* context, int validLength{additiveParam}, float* scratch, float* lse)"))
            {
                w.Line("_ = scratch; // the scalar path keeps its running state in locals");
                w.Line("float* scores = stackalloc float[KeyBlock];");
                w.Line("float* acc = stackalloc float[HeadDim];");
                if (!s.Causal)
                {
                    w.Line("int end = validLength; // keys visible to every row");
                }
                using (w.Open("for (int h = 0; h < Heads; h++)"))
                {
                    w.Line("float* kh = k + (h / GroupSize) * HeadDim;");
                    w.Line("float* vh = v + (h / GroupSize) * HeadDim;");
                    if (plan.IsAdditive)
                    {
                        w.Line("float* vAdd = additiveV + h * HeadDim;");
                    }
                    using (w.Open("for (int i = 0; i < SeqLen; i++)"))
                    {
                        w.Line("float* qi = q + i * QueryWidth + h * HeadDim;");
                        w.Line("float* oi = context + i * QueryWidth + h * HeadDim;");
                        if (s.Causal)
                        {
                            w.Line("// Causal mask and padding: row i sees keys 0 .. min(i + CausalOffset, validLength - 1).");
                            w.Line("int end = global::System.Math.Min(validLength, i + CausalOffset + 1);");
                        }
                        using (w.Open("if (end <= 0)"))
                        {
                            w.Line("// No visible key: the attention output is zero, not NaN.");
                            w.Line("new global::System.Span<float>(oi, HeadDim).Clear();");
                            w.Line("if (lse != null) lse[h * SeqLen + i] = float.NegativeInfinity;");
                            w.Line("continue;");
                        }
                        w.Line();
                        w.Line("float rowMax = float.NegativeInfinity;");
                        w.Line("float rowSum = 0f;");
                        w.Line("new global::System.Span<float>(acc, HeadDim).Clear();");
                        using (w.Open("for (int j0 = 0; j0 < end; j0 += KeyBlock)"))
                        {
                            w.Line("int count = global::System.Math.Min(KeyBlock, end - j0);");
                            EmitScoreBlock(w, plan);
                            w.Line();
                            w.Line("// Online softmax: rescale the running sum and accumulator to the new max.");
                            w.Line("float newMax = global::System.Math.Max(rowMax, blockMax);");
                            w.Line("float alpha = global::System.MathF.Exp(rowMax - newMax); // exp(-inf) = 0 on the first block");
                            w.Line("rowSum *= alpha;");
                            using (w.Open("for (int d = 0; d < HeadDim; d++)"))
                            {
                                w.Line("acc[d] *= alpha;");
                            }
                            w.Line();
                            w.Line("// acc += p · V[j0 .. j0 + count)");
                            using (w.Open("for (int c = 0; c < count; c++)"))
                            {
                                w.Line("float p = global::System.MathF.Exp(scores[c] - newMax);");
                                w.Line("rowSum += p;");
                                w.Line("float* vj = vh + (j0 + c) * KvWidth;");
                                using (w.Open("for (int d = 0; d < HeadDim; d++)"))
                                {
                                    w.Line("acc[d] += p * vj[d];");
                                }
                            }
                            w.Line("rowMax = newMax;");
                        }
                        w.Line();
                        w.Line("// Normalise by the softmax sum.");
                        w.Line("float inv = 1f / rowSum;");
                        w.Line("if (lse != null) lse[h * SeqLen + i] = rowMax + global::System.MathF.Log(rowSum); // row log-sum-exp, for backward");
                        using (w.Open("for (int d = 0; d < HeadDim; d++)"))
                        {
                            w.Line("oi[d] = acc[d] * inv;");
                        }
                    }
                }
            }
        }

        /// <summary>scores[0..count) for keys j0..j0+count and their max.</summary>
        private static void EmitScoreBlock(SourceWriter w, KernelPlan plan)
        {
            LayerSpec s = plan.Spec;
            string what = s.Scoring switch
            {
                ScoringKind.ScaledDotProduct => "S[i, j0 .. j0 + count) = (q_i · k_j) · ScoreScale",
                ScoringKind.DotProduct => "S[i, j0 .. j0 + count) = q_i · k_j",
                _ => "S[i, j0 .. j0 + count) = v_h · tanh(q_i + k_j)",
            };
            w.Line($"// {what}");
            w.Line("float blockMax = float.NegativeInfinity;");
            using (w.Open("for (int c = 0; c < count; c++)"))
            {
                w.Line("float* kj = kh + (j0 + c) * KvWidth;");
                w.Line("float dot = 0f;");
                using (w.Open("for (int d = 0; d < HeadDim; d++)"))
                {
                    w.Line(s.Scoring == ScoringKind.Additive
                        ? "dot += vAdd[d] * global::System.MathF.Tanh(qi[d] + kj[d]);"
                        : "dot += qi[d] * kj[d];");
                }
                w.Line(plan.HasScale ? "float score = dot * ScoreScale;" : "float score = dot;");
                w.Line("scores[c] = score;");
                w.Line("blockMax = global::System.Math.Max(blockMax, score);");
            }
        }
    }
}
