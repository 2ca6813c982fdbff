using AttnGen.Generator.Emit.Kernels.Template;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Vector
{
    /// <summary>
    /// Emits <c>AttentionRows__{isa}</c>: one tile of n query rows against every visible key block. Per block: the
    /// score tile S = Q·Kᵀ (a register-tile kernel), the mask where one can apply, one online-softmax step per row
    /// (the runtime's <c>SoftmaxRows.OnlineStep</c>), and O = alpha ∘ O + P·V (a register-tile kernel). Blocks
    /// wholly above the causal diagonal or past the valid length are never visited.
    /// </summary>
    internal static class VectorAttentionRowsEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan, KernelSet kernels, VectorTiling t)
        {
            LayerSpec s = plan.Spec;
            IsaProfile isa = kernels.Syntax.Isa;
            string vec = kernels.Syntax.Type;
            int br = t.QueryRows, bc = t.KeyBlock, dimPad = t.DimPad;
            string additiveParam = plan.IsAdditive ? ", float* va" : "";

            w.Line($"// AttentionRows__{isa.Suffix}: query rows i0 .. i0 + n - 1 (n ≤ {Inv(br)}) of one head against every visible key block;");
            w.Line("// m, l: each row's running max and sum (l kept as a vector, reduced at the end); O accumulates unnormalised.");
            using (w.Open($"private static unsafe void AttentionRows__{isa.Suffix}(float* q, float* kt, float* vp, float* output, int i0, int n, int validLength, float* o, float* p, float* qt, float* lse{additiveParam})"))
            {
                w.Line($"float* m = stackalloc float[{Inv(br)}];");
                w.Line($"float* alpha = stackalloc float[{Inv(br)}];");
                w.Line($"{vec}* l = stackalloc {vec}[{Inv(br)}];");
                using (w.Open("for (int r = 0; r < n; r++)"))
                {
                    w.Line("m[r] = float.NegativeInfinity;");
                    w.Line($"l[r] = {vec}.Zero;");
                }
                w.Line($"AgSupport.CopyRows(q, QueryWidth, qt, {Inv(dimPad)}, n, HeadDim);");
                w.Line($"new global::System.Span<float>(o, n * {Inv(dimPad)}).Clear();");
                if (s.Causal)
                {
                    w.Line("// Causal: the tile's last row sees keys below i0 + n + CausalOffset; keys below maskFrom are visible to every row.");
                    w.Line("int keyEnd = global::System.Math.Min(validLength, i0 + n + CausalOffset);");
                    w.Line("int maskFrom = global::System.Math.Min(validLength, i0 + CausalOffset + 1);");
                }
                else
                {
                    w.Line("int keyEnd = validLength, maskFrom = validLength;");
                }
                using (w.Open($"for (int j0 = 0; j0 < keyEnd; j0 += {Inv(bc)})"))
                {
                    EmitScores(w, plan, kernels, t);
                    w.Line($"// Mask keys past the valid length{(s.Causal ? " and above the diagonal" : "")} with -inf (only blocks that reach maskFrom).");
                    using (w.Open($"if (j0 + {Inv(bc)} > maskFrom)"))
                    {
                        w.Line(s.Causal
                            ? $"for (int r = 0; r < n; r++) AgRows.MaskFrom(p + r * {Inv(bc)}, {Inv(bc)}, global::System.Math.Min(validLength, i0 + r + CausalOffset + 1) - j0);"
                            : $"for (int r = 0; r < n; r++) AgRows.MaskFrom(p + r * {Inv(bc)}, {Inv(bc)}, validLength - j0);");
                    }
                    w.Line("// Online softmax per row: P = e^((S - m_new)·scale) in place, l = l·alpha + Σ P, alpha = e^((m_old - m_new)·scale).");
                    w.Line($"for (int r = 0; r < n; r++) alpha[r] = AgRows.OnlineStep(p + r * {Inv(bc)}, {Inv(bc)}, {t.Scale}, ref m[r], ref l[r]);");
                    w.Line("// Keys past keyEnd have P = 0 in every row of the tile: P·V stops there.");
                    w.Line($"int jEnd = global::System.Math.Min({Inv(bc)}, keyEnd - j0);");
                    w.Line($"float* vb = vp + j0 * {t.RowStride};");
                    int chunk = isa.PvVectors * isa.Width;
                    w.Line($"// O[0..n-1, :] = alpha ∘ O + P · V[j0 .., :], {Inv(chunk)} columns at a time.");
                    for (int c0 = 0; c0 < dimPad; c0 += chunk)
                    {
                        int columns = System.Math.Min(chunk, dimPad - c0);
                        string at = c0 == 0 ? "" : $" + {Inv(c0)}";
                        w.Line(t.ByRows(rows => $"{kernels.Use(TileProduct.Scaled(rows, columns, bc))}(p, jEnd, vb{at}, {t.RowStride}, alpha, o{at}, {Inv(dimPad)});"));
                    }
                }
                w.Line("// O / l into the output rows (a row that saw no key has l = 0 and gets zeros); the row log-sum-exp for backward, in scaled units.");
                using (w.Open("for (int r = 0; r < n; r++)"))
                {
                    w.Line("float sum = AgMath.HorizontalSum(l[r]);");
                    w.Line($"if (lse != null) lse[r] = sum > 0f ? m[r] * {t.Scale} + global::System.MathF.Log(sum) : float.NegativeInfinity;");
                    w.Line($"AgRows.ScaleInto(o + r * {Inv(dimPad)}, output + r * QueryWidth, HeadDim, sum > 0f ? 1f / sum : 0f);");
                }
            }
            w.Line();
        }

        /// <summary>S[0..n-1, j0 .. j0 + Bc - 1] = Q · Kᵀ (unscaled: the scale is applied in the softmax), or the additive score.</summary>
        private static void EmitScores(SourceWriter w, KernelPlan plan, KernelSet kernels, VectorTiling t)
        {
            int bc = t.KeyBlock, sub = t.SubTileWidth, headDim = plan.Spec.HeadDim;
            w.Line(plan.IsAdditive
                ? $"// S[0..n-1, j0 ..] = Σ_d v[d] · tanh(q[r, d] + k[d, j]), {Inv(sub)} keys per register tile; keys block j0 / {Inv(bc)} is [HeadDim, {Inv(bc)}]."
                : $"// S[0..n-1, j0 ..] = Q · Kᵀ, {Inv(sub)} keys per register tile; key block j0 / {Inv(bc)} is [HeadDim, {Inv(bc)}].");
            using (sub < bc ? w.Open($"for (int jb = 0; jb < {Inv(bc)}; jb += {Inv(sub)})") : w.Open(""))
            {
                if (sub == bc)
                {
                    w.Line("const int jb = 0;");
                }
                w.Line(t.ByRows(rows => ScoreCall(plan, kernels, rows, sub, headDim, t.DimPad, bc, "qt", "kt + j0 * HeadDim + jb", "p + jb")));
            }
        }

        /// <summary>A call of the score tile: Q·Kᵀ through the Gemm tile (zeros as its initial row), or the additive tile.</summary>
        public static string ScoreCall(KernelPlan plan, KernelSet kernels, int rows, int columns, int headDim, int dimPad, int bc, string a, string b, string c)
            => plan.IsAdditive
                ? $"{kernels.Use(TileProduct.Additive(rows, columns, headDim, dimPad))}({a}, {b}, {Inv(bc)}, va, {c}, {Inv(bc)});"
                : $"{kernels.Use(TileProduct.Gemm(rows, columns, headDim, dimPad))}({a}, {b}, {Inv(bc)}, AgSupport.ZeroRow, {c}, {Inv(bc)});";
    }
}
