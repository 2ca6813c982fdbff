using AttnGen.Generator.Emit.Kernels.Template;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Vector
{
    /// <summary>
    /// Emits <c>BackwardTile__{isa}</c>: one tile of n query rows against every visible key block, each product a
    /// register-tile kernel: S = Q·Kᵀ and dP = dO·Vᵀ (the forward's score tile), P and dS per row (the runtime's
    /// <c>SoftmaxRows.Gradient</c>), dV += Pᵀ·dO and dK += dSᵀ·Q (the transposed tile), dQ += dS·K (the forward's
    /// P·V tile). The additive score takes its own gradient path (<see cref="AdditiveGradientEmitter"/>).
    /// </summary>
    internal static class VectorBackwardTileEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan, KernelSet kernels, VectorTiling t)
        {
            LayerSpec s = plan.Spec;
            IsaProfile isa = kernels.Syntax.Isa;
            int br = t.QueryRows, bc = t.KeyBlock, dimPad = t.DimPad, sub = t.SubTileWidth;

            w.Line($"// BackwardTile__{isa.Suffix}: query rows i0 .. i0 + n - 1 (n ≤ {Inv(br)}) of one head against every visible key block.");
            using (w.Open($"private static unsafe void BackwardTile__{isa.Suffix}(float* q, float* o, float* dO, float* dq, float* lse, int i0, int n, int validLength, float* kr, float* work)"))
            {
                w.Line("float* kt = work + WorkTileKeysT, vt = work + WorkTileValuesT, dkAcc = work + WorkTileKeyGrad, dvAcc = work + WorkTileValueGrad;");
                w.Line("float* qt = work + WorkTileQuery, dot = work + WorkTileOutGrad, dqt = work + WorkTileQueryGrad, p = work + WorkTileProb, ds = work + WorkTileScoreGrad;");
                if (plan.IsAdditive)
                {
                    w.Line("float* va = work + WorkTileAdditiveV, dva = work + WorkTileAdditiveVGrad;");
                }
                w.Line($"float* delta = stackalloc float[{Inv(br)}], rowLse = stackalloc float[{Inv(br)}], ones = stackalloc float[{Inv(br)}];");
                w.Line($"int* limit = stackalloc int[{Inv(br)}];");
                w.Line($"// Q and dO rows into [n, {Inv(dimPad)}]; Δ_r = dO_r · O_r; the saved LSE_r; limit_r: the keys row r sees (a row that saw");
                w.Line("// no key has LSE = -inf and limit ≤ 0, so its keys are all masked).");
                w.Line($"AgSupport.CopyRows(q, QueryWidth, qt, {Inv(dimPad)}, n, HeadDim);");
                w.Line($"AgSupport.CopyRows(dO, QueryWidth, dot, {Inv(dimPad)}, n, HeadDim);");
                using (w.Open("for (int r = 0; r < n; r++)"))
                {
                    w.Line($"delta[r] = AgRows.Dot(dot + r * {Inv(dimPad)}, o + r * QueryWidth, HeadDim);");
                    w.Line("rowLse[r] = lse[r];");
                    w.Line("ones[r] = 1f;");
                    w.Line(s.Causal ? "limit[r] = global::System.Math.Min(validLength, i0 + r + CausalOffset + 1);" : "limit[r] = validLength;");
                }
                w.Line($"new global::System.Span<float>(dqt, n * {Inv(dimPad)}).Clear();");
                w.Line(s.Causal
                    ? "int keyEnd = global::System.Math.Min(validLength, i0 + n + CausalOffset); // blocks above the tile's last row are skipped"
                    : "int keyEnd = validLength;");
                using (w.Open($"for (int j0 = 0; j0 < keyEnd; j0 += {Inv(bc)})"))
                {
                    w.Line($"// S = Q·Kᵀ into p and dP = dO·Vᵀ into ds, {Inv(sub)} keys per register tile.");
                    using (sub < bc ? w.Open($"for (int jb = 0; jb < {Inv(bc)}; jb += {Inv(sub)})") : w.Open(""))
                    {
                        if (sub == bc)
                        {
                            w.Line("const int jb = 0;");
                        }
                        w.Line(t.ByRows(rows => VectorAttentionRowsEmitter.ScoreCall(plan, kernels, rows, sub, s.HeadDim, dimPad, bc, "qt", "kt + j0 * HeadDim + jb", "p + jb")));
                        w.Line(t.ByRows(rows => $"{kernels.Use(TileProduct.Gemm(rows, sub, s.HeadDim, dimPad))}(dot, vt + j0 * HeadDim + jb, {Inv(bc)}, AgSupport.ZeroRow, ds + jb, {Inv(bc)});"));
                    }
                    w.Line($"// P = e^(S{(plan.HasScale ? "·scale" : "")} - LSE) on visible keys, else 0; dS = P ∘ (dP - Δ){(plan.HasScale ? "·scale" : "")}.");
                    w.Line($"for (int r = 0; r < n; r++) AgRows.Gradient(p + r * {Inv(bc)}, ds + r * {Inv(bc)}, {Inv(bc)}, limit[r] - j0, {t.Scale}, rowLse[r], delta[r]);");
                    EmitTransposedUpdate(w, kernels, t, "dvAcc", "p", "dot", "dV += Pᵀ · dO");
                    if (plan.IsAdditive)
                    {
                        AdditiveGradientEmitter.Emit(w, plan, kernels.Syntax, t);
                    }
                    else
                    {
                        EmitTransposedUpdate(w, kernels, t, "dkAcc", "ds", "qt", "dK += dSᵀ · Q");
                        int chunk = isa.PvVectors * isa.Width;
                        w.Line($"// dQ[0..n-1, :] += dS · K[j0 .., :], {Inv(chunk)} columns at a time.");
                        w.Line($"float* kb = kr + j0 * {t.RowStride};");
                        for (int c0 = 0; c0 < dimPad; c0 += chunk)
                        {
                            int columns = System.Math.Min(chunk, dimPad - c0);
                            string at = c0 == 0 ? "" : $" + {Inv(c0)}";
                            w.Line(t.ByRows(rows => $"{kernels.Use(TileProduct.Scaled(rows, columns, bc))}(ds, {Inv(bc)}, kb{at}, {t.RowStride}, ones, dqt{at}, {Inv(dimPad)});"));
                        }
                    }
                }
                w.Line("// The dQ tile into the rows of dq.");
                w.Line($"AgSupport.CopyRows(dqt, {Inv(dimPad)}, dq, QueryWidth, n, HeadDim);");
            }
            w.Line();
        }

        /// <summary>
        /// acc[j0 + j, :] += Σ_r coefficient[r, j] · rows[r, :] over the block's Bc keys and the tile's n rows: the
        /// transposed tile with the keys as its rows and the query rows as its reduction.
        /// </summary>
        private static void EmitTransposedUpdate(SourceWriter w, KernelSet kernels, VectorTiling t, string acc, string coefficient, string rows, string formula)
        {
            IsaProfile isa = kernels.Syntax.Isa;
            int bc = t.KeyBlock, dimPad = t.DimPad;
            // Key rows per tile: the profile's GEMM rows, or the largest count below them that divides the block, so
            // the update shares the projection's dW tile or needs one kernel, not a remainder tile as well.
            int tileRows = isa.GemmRows;
            while (bc % tileRows != 0)
            {
                tileRows--;
            }
            w.Line($"// {formula} for keys j0 .. j0 + {Inv(bc - 1)}.");
            using (w.Open(""))
            {
                w.Line($"float* a = {acc} + j0 * {Inv(dimPad)};");
                TileLoops.Emit(w, bc, dimPad, tileRows, isa.PanelWidth, (row, column, tr, tc) =>
                    $"{kernels.Use(TileProduct.Transposed(tr, tc))}({TileLoops.Offset(coefficient, row, 1)}, {Inv(bc)}, n, {TileLoops.Offset(rows, column, 1)}, {Inv(dimPad)}, {TileLoops.Offset(TileLoops.Offset("a", row, dimPad), column, 1)}, {Inv(dimPad)});");
            }
        }
    }
}
