using System.Collections.Generic;
using AttnGen.Generator.Model;
using Planner = AttnGen.Generator.Planning.KernelPlanner;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit
{
    /// <summary>
    /// Emits the fused attention core of one vector path (FlashAttention-2 shape): per key/value head, keys
    /// are packed transposed and values padded; per query head and tile of Br rows, key blocks of Bc are
    /// scored by a broadcast-FMA register tile, masked only where a mask can apply, folded into a running
    /// max and sum (online softmax with -inf guards), and accumulated as O += P · V. Blocks wholly above
    /// the causal diagonal or past the valid length are never visited.
    /// </summary>
    internal static class VectorAttentionEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan, IsaProfile isa)
        {
            LayerSpec s = plan.Spec;
            int br = isa.ScoreRows;
            int fullTiles = s.SeqLen / br, remainder = s.SeqLen % br;
            int block = KeyBlock(plan, isa);
            int keyPad = Planner.RoundUp(s.KvSeqLen, block);
            int dimPad = Planner.RoundUp(s.HeadDim, isa.Width);
            string additiveParam = plan.IsAdditive ? ", float* additiveV" : "";
            string additiveArg = plan.IsAdditive ? ", va" : "";

            w.Line($"// Attention__{isa.Suffix}: keys packed per key/value head in {Inv(keyPad / block)} blocks of [{Inv(s.HeadDim)}, {Inv(block)}], values [{Inv(keyPad)}, {Inv(dimPad)}];");
            w.Line($"// query tiles of {Inv(br)} rows ({Inv(fullTiles)} full{(remainder > 0 ? ", one of " + Inv(remainder) : "")}), key blocks of {Inv(block)}.");
            using (w.Open($"private static unsafe void Attention__{isa.Suffix}(float* q, float* k, float* v, float* context, int validLength{additiveParam}, float* scratch, float* lse)"))
            {
                w.Line("float* kt = scratch + ScratchKeyPack;");
                w.Line("float* vp = scratch + ScratchValuePack;");
                w.Line("float* o = scratch + ScratchOutTile;");
                w.Line("float* p = scratch + ScratchProbTile;");
                using (w.Open("for (int g = 0; g < KvHeads; g++)"))
                {
                    w.Line($"global::AttnGen.KernelSupport.PackKeyBlocks(k + g * HeadDim, KvWidth, KvSeqLen, HeadDim, {Inv(keyPad)}, {Inv(block)}, kt);");
                    if (ValuesInPlace(plan, isa))
                    {
                        w.Line("float* vg = v + g * HeadDim; // whole key blocks and vectors: P · V reads the values where they are");
                    }
                    else
                    {
                        w.Line($"global::AttnGen.KernelSupport.PackValues(v + g * HeadDim, KvWidth, KvSeqLen, HeadDim, {Inv(keyPad)}, {Inv(dimPad)}, vp);");
                        w.Line("float* vg = vp;");
                    }
                    using (w.Open("for (int h = g * GroupSize; h < g * GroupSize + GroupSize; h++)"))
                    {
                        w.Line("float* qh = q + h * HeadDim;");
                        w.Line("float* ch = context + h * HeadDim;");
                        w.Line("float* lh = lse == null ? null : lse + h * SeqLen;");
                        if (plan.IsAdditive)
                        {
                            w.Line("float* va = additiveV + h * HeadDim;");
                        }
                        if (fullTiles > 0)
                        {
                            using (w.Open($"for (int i0 = 0; i0 < {Inv(fullTiles * br)}; i0 += {Inv(br)})"))
                            {
                                w.Line($"AttentionRows{Inv(br)}__{isa.Suffix}(qh + i0 * QueryWidth, kt, vg, ch + i0 * QueryWidth, i0, validLength, o, p, lh == null ? null : lh + i0{additiveArg});");
                            }
                        }
                        if (remainder > 0)
                        {
                            int i0 = fullTiles * br;
                            w.Line($"AttentionRows{Inv(remainder)}__{isa.Suffix}(qh + {Inv(i0)} * QueryWidth, kt, vg, ch + {Inv(i0)} * QueryWidth, {Inv(i0)}, validLength, o, p, lh == null ? null : lh + {Inv(i0)}{additiveArg});");
                        }
                    }
                }
            }
            w.Line();

            if (fullTiles > 0)
            {
                EmitRows(w, plan, isa, br, dimPad);
            }
            if (remainder > 0)
            {
                EmitRows(w, plan, isa, remainder, dimPad);
            }
        }

        private static void EmitRows(SourceWriter w, KernelPlan plan, IsaProfile isa, int rows, int dimPad)
        {
            LayerSpec s = plan.Spec;
            var v = new VectorSyntax(isa);
            int width = isa.Width, bc = KeyBlock(plan, isa), nc = ScoreVectors(plan, isa);
            int subTiles = bc / (nc * width);
            int dimVectors = dimPad / width;
            string additiveParam = plan.IsAdditive ? ", float* va" : "";

            w.Line($"// AttentionRows{Inv(rows)}__{isa.Suffix}: query rows i0 .. i0 + {Inv(rows - 1)} of one head against every visible key block.");
            using (w.Open($"private static unsafe void AttentionRows{Inv(rows)}__{isa.Suffix}(float* q, float* kt, float* vp, float* output, int i0, int validLength, float* o, float* p, float* lse{additiveParam})"))
            {
                w.Line("// Running row max m and row sum l (kept as a vector, reduced once at the end) of the online softmax;");
                w.Line("// O accumulates unnormalised and is rescaled by alpha = e^(m_old - m_new) as P · V loads it.");
                for (int r = 0; r < rows; r++)
                {
                    w.Line($"float m{r} = float.NegativeInfinity, alpha{r};");
                    w.Line($"{v.Type} l{r} = {v.Type}.Zero;");
                }
                w.Line($"new global::System.Span<float>(o, {Inv(rows * dimPad)}).Clear();");
                if (s.Causal)
                {
                    w.Line("// Causal: the tile's last row sees keys below i0 + rows + CausalOffset; later blocks are skipped.");
                    w.Line($"int keyEnd = global::System.Math.Min(validLength, i0 + {Inv(rows)} + CausalOffset);");
                    w.Line("// Keys below maskFrom are visible to every row of the tile: blocks before it need no mask.");
                    w.Line("int maskFrom = global::System.Math.Min(validLength, i0 + CausalOffset + 1);");
                }
                else
                {
                    w.Line("int keyEnd = validLength;");
                    w.Line("int maskFrom = validLength;");
                }
                using (w.Open($"for (int j0 = 0; j0 < keyEnd; j0 += {Inv(bc)})"))
                {
                    for (int sub = 0; sub < subTiles; sub++)
                    {
                        EmitScoreTile(w, plan, isa, rows, sub * nc * width);
                    }

                    w.Line($"// Mask keys past the valid length{(s.Causal ? " and above the diagonal" : "")} with -inf (only blocks that reach maskFrom).");
                    using (w.Open($"if (j0 + {Inv(bc)} > maskFrom)"))
                    {
                        using (w.Open($"for (int r = 0; r < {Inv(rows)}; r++)"))
                        {
                            w.Line(s.Causal
                                ? "int limit = global::System.Math.Min(validLength, i0 + r + CausalOffset + 1) - j0;"
                                : "int limit = validLength - j0;");
                            w.Line($"{isa.VectorClass}<int> visible = AgVec.Create(limit); // keys at block positions >= limit are masked");
                            w.Line($"float* pr = p + r * {Inv(bc)};");
                            for (int c = 0; c < bc / width; c++)
                            {
                                w.Line($"{v.Store($"AgVec.ConditionalSelect(AgVec.AsSingle(AgVec.GreaterThanOrEqual({isa.VectorClass}<int>.Indices + AgVec.Create({Inv(c * width)}), visible)), AgVec.Create(float.NegativeInfinity), {v.Load($"pr + {Inv(c * width)}")})", $"pr + {Inv(c * width)}")};");
                            }
                        }
                    }

                    int blockVectors = bc / width;
                    for (int r = 0; r < rows; r++)
                    {
                        w.Line($"// Online softmax, row {r}: m_new = max(m, max_j S), P = e^(S - m_new), l = l·alpha + Σ P.");
                        using (w.Open(""))
                        {
                            w.Line($"float* pr = p + {Inv(r * bc)};");
                            for (int c = 0; c < blockVectors; c++)
                            {
                                w.Line($"{v.Type} x{c} = {v.Load($"pr + {Inv(c * width)}")};");
                            }
                            w.Line($"float mNew = global::System.Math.Max(m{r}, HMax__{isa.Suffix}({Tree("x", max: true, 0, blockVectors)}));");
                            using (w.Open("if (mNew == float.NegativeInfinity)"))
                            {
                                w.Line("// Nothing visible to this row yet: P = 0 (no NaN from -inf - -inf), O and l stay 0.");
                                for (int c = 0; c < blockVectors; c++)
                                {
                                    w.Line($"{v.Store($"{v.Type}.Zero", $"pr + {Inv(c * width)}")};");
                                }
                                w.Line($"alpha{r} = 1f;");
                            }
                            using (w.Open("else"))
                            {
                                if (plan.HasScale)
                                {
                                    w.Line("// Scores are stored unscaled: (S - m) · scale as one fused multiply-add (the scale is positive, so the max commutes with it).");
                                    w.Line($"{v.Type} scale = AgVec.Create(ScoreScale), mv = AgVec.Create(-mNew * ScoreScale);");
                                }
                                else
                                {
                                    w.Line($"{v.Type} mv = AgVec.Create(mNew);");
                                }
                                for (int c = 0; c < blockVectors; c++)
                                {
                                    w.Line($"{v.Type} e{c} = {v.Exp(plan.HasScale ? v.Fma($"x{c}", "scale", "mv") : $"x{c} - mv")};");
                                    w.Line($"{v.Store($"e{c}", $"pr + {Inv(c * width)}")};");
                                }
                                w.Line($"// alpha = e^(m_old - m_new): 1 while the max holds, 0 on the first visible block (m_old = -inf).");
                                w.Line($"alpha{r} = m{r} == mNew ? 1f : m{r} == float.NegativeInfinity ? 0f : AgVec.ToScalar({v.Exp(plan.HasScale ? $"AgVec.Create((m{r} - mNew) * ScoreScale)" : $"AgVec.Create(m{r} - mNew)")});");
                                w.Line($"l{r} = {v.Fma($"l{r}", $"AgVec.Create(alpha{r})", Tree("e", max: false, 0, blockVectors))};");
                                w.Line($"m{r} = mNew;");
                            }
                        }
                    }

                    w.Line($"// Keys past keyEnd have P = 0 in every row of the tile (the diagonal or the valid length): P · V stops there.");
                    w.Line($"int jEnd = global::System.Math.Min({Inv(bc)}, keyEnd - j0);");
                    EmitPv(w, plan, isa, rows, dimVectors, dimPad);
                }

                w.Line("// O / l into the output rows (a row that saw no key has l = 0 and gets zeros).");
                int fullVectors = s.HeadDim / width, tail = s.HeadDim % width;
                for (int r = 0; r < rows; r++)
                {
                    using (w.Open(""))
                    {
                        w.Line($"float sum = AgVec.Sum(l{r});");
                        w.Line("float inv = sum > 0f ? 1f / sum : 0f;");
                        w.Line($"if (lse != null) lse[{Inv(r)}] = sum > 0f ? m{r}{(plan.HasScale ? " * ScoreScale" : "")} + global::System.MathF.Log(sum) : float.NegativeInfinity; // for backward, in scaled units");
                        w.Line($"float* orow = o + {Inv(r * dimPad)};");
                        w.Line($"float* yrow = output + {Inv(r)} * QueryWidth;");
                        if (fullVectors > 0)
                        {
                            w.Line($"{v.Type} iv = AgVec.Create(inv);");
                            w.Line($"for (int c = 0; c < {Inv(fullVectors * width)}; c += {Inv(width)}) {v.Store($"{v.Load("orow + c")} * iv", "yrow + c")};");
                        }
                        if (tail > 0)
                        {
                            w.Line($"for (int c = {Inv(fullVectors * width)}; c < HeadDim; c++) yrow[c] = orow[c] * inv;");
                        }
                    }
                }
            }
            w.Line();
        }

        /// <summary>
        /// Whether P · V can read the values in place (row stride KvWidth): every key block is whole and the head
        /// dimension is whole vectors, so no load leaves the values; otherwise they are packed with zero padding.
        /// </summary>
        private static bool ValuesInPlace(KernelPlan plan, IsaProfile isa)
            => plan.Spec.KvSeqLen % KeyBlock(plan, isa) == 0 && plan.Spec.HeadDim % isa.Width == 0;

        /// <summary>
        /// Keys per online-softmax step for this shape: the profile's block, or for sequences shorter than it
        /// just enough whole vectors to cover them (S = 16 on AVX-512 is one vector, not a 64-key block of padding).
        /// </summary>
        internal static int KeyBlock(KernelPlan plan, IsaProfile isa)
        {
            int vectors = (plan.Spec.KvSeqLen + isa.Width - 1) / isa.Width;
            return vectors <= isa.ScoreVectors
                ? vectors * isa.Width
                : System.Math.Min(isa.KeyBlock, Planner.RoundUp(plan.Spec.KvSeqLen, isa.ScoreVectors * isa.Width));
        }

        /// <summary>Key vectors per score sub-tile for this shape (at most the profile's, which the register budget sets).</summary>
        private static int ScoreVectors(KernelPlan plan, IsaProfile isa)
            => System.Math.Min(isa.ScoreVectors, KeyBlock(plan, isa) / isa.Width);

        /// <summary>
        /// <paramref name="prefix"/>{from} .. {to - 1} combined as a balanced tree (a short dependency chain): by
        /// <c>AgVec.MaxNative</c> for the row max, by + for the row sum.
        /// </summary>
        private static string Tree(string prefix, bool max, int from, int to)
        {
            if (to - from == 1)
            {
                return $"{prefix}{Inv(from)}";
            }
            int mid = (from + to) / 2;
            string left = Tree(prefix, max, from, mid), right = Tree(prefix, max, mid, to);
            return max ? $"AgVec.MaxNative({left}, {right})" : $"({left} + {right})";
        }

        /// <summary>S[rows, columns column0 .. column0 + NC·W) of the block at j0 = Q · Kᵀ (scaled), or the additive score.</summary>
        private static void EmitScoreTile(SourceWriter w, KernelPlan plan, IsaProfile isa, int rows, int column0)
        {
            LayerSpec s = plan.Spec;
            var v = new VectorSyntax(isa);
            int nc = ScoreVectors(plan, isa), width = isa.Width, bc = KeyBlock(plan, isa);
            string formula = plan.IsAdditive ? "Σ_d v[d] · tanh(q[r, d] + k[d, j])" : "q[r, :] · k[:, j]" + (plan.HasScale ? " (the scale is applied in the softmax)" : "");
            w.Line($"// S[0..{Inv(rows - 1)}, j0 + {Inv(column0)} .. j0 + {Inv(column0 + nc * width - 1)}] = {formula}: {Inv(rows * nc)} accumulators.");
            using (w.Open(""))
            {
                for (int r = 0; r < rows; r++)
                {
                    var parts = new List<string>();
                    for (int c = 0; c < nc; c++)
                    {
                        parts.Add($"s{r}_{c} = {v.Type}.Zero");
                    }
                    w.Line($"{v.Type} {string.Join(", ", parts)};");
                }
                w.Line($"float* kb = kt + j0 * HeadDim + {Inv(column0)}; // block j0 / {Inv(bc)} of the packed keys, [HeadDim, {Inv(bc)}]");
                using (w.Open("for (int d = 0; d < HeadDim; d++)"))
                {
                    w.Line($"float* kd = kb + d * {Inv(bc)};");
                    w.Line("float* qd = q + d; // row r of the tile at qd[r * QueryWidth]: constant offsets, no index arithmetic");
                    for (int c = 0; c < nc; c++)
                    {
                        w.Line($"{v.Type} k{c} = {v.Load($"kd + {Inv(c * width)}")};");
                    }
                    if (plan.IsAdditive)
                    {
                        w.Line($"{v.Type} vd = {v.Broadcast("va[d]")};");
                    }
                    for (int r = 0; r < rows; r++)
                    {
                        w.Line($"{v.Type} q{r} = {v.Broadcast($"qd[{Inv(r)} * QueryWidth]")};");
                        for (int c = 0; c < nc; c++)
                        {
                            w.Line(plan.IsAdditive
                                ? $"s{r}_{c} = {v.Fma("vd", $"Tanh__{isa.Suffix}(q{r} + k{c})", $"s{r}_{c}")};"
                                : $"s{r}_{c} = {v.Fma($"q{r}", $"k{c}", $"s{r}_{c}")};");
                        }
                    }
                }
                for (int r = 0; r < rows; r++)
                {
                    for (int c = 0; c < nc; c++)
                    {
                        string value = $"s{r}_{c}";
                        w.Line($"{v.Store(value, $"p + {Inv(r * bc + column0 + c * width)}")};");
                    }
                }
            }
        }

        /// <summary>O[rows, dimPad] = alpha ∘ O + P[rows, Bc] · V[j0 .. j0 + Bc, dimPad] in register tiles of PvRows x PvVectors.</summary>
        private static void EmitPv(SourceWriter w, KernelPlan plan, IsaProfile isa, int rows, int dimVectors, int dimPad)
        {
            string valueStride = ValuesInPlace(plan, isa) ? "KvWidth" : Inv(dimPad);
            var v = new VectorSyntax(isa);
            int width = isa.Width, bc = KeyBlock(plan, isa);
            for (int r0 = 0; r0 < rows; r0 += isa.PvRows)
            {
                int rc = System.Math.Min(isa.PvRows, rows - r0);
                int fullChunks = dimVectors / isa.PvVectors, rest = dimVectors % isa.PvVectors;
                if (fullChunks > 0)
                {
                    w.Line($"// O[{Inv(r0)}..{Inv(r0 + rc - 1)}, :] = alpha ∘ O + P · V, {Inv(isa.PvVectors)} vectors of O at a time.");
                    using (w.Open($"for (int c0 = 0; c0 < {Inv(fullChunks * isa.PvVectors * width)}; c0 += {Inv(isa.PvVectors * width)})"))
                    {
                        EmitPvTile(w, v, r0, rc, isa.PvVectors, "c0", width, bc, dimPad, valueStride);
                    }
                }
                if (rest > 0)
                {
                    w.Line($"// O[{Inv(r0)}..{Inv(r0 + rc - 1)}, last {Inv(rest)} vectors] = alpha ∘ O + P · V.");
                    using (w.Open(""))
                    {
                        w.Line($"const int c0 = {Inv(fullChunks * isa.PvVectors * width)};");
                        EmitPvTile(w, v, r0, rc, rest, "c0", width, bc, dimPad, valueStride);
                    }
                }
            }
        }

        private static void EmitPvTile(SourceWriter w, VectorSyntax v, int r0, int rows, int vectors, string c0, int width, int bc, int dimPad, string valueStride)
        {
            for (int r = 0; r < rows; r++)
            {
                w.Line($"{v.Type} a{r} = AgVec.Create(alpha{r0 + r});");
                var parts = new List<string>();
                for (int c = 0; c < vectors; c++)
                {
                    parts.Add($"o{r}_{c} = {v.Load($"o + {Inv((r0 + r) * dimPad + c * width)} + {c0}")} * a{r}");
                }
                w.Line($"{v.Type} {string.Join(", ", parts)};");
            }
            using (w.Open("for (int j = 0; j < jEnd; j++)"))
            {
                w.Line($"float* vj = vp + (j0 + j) * {valueStride} + {c0};");
                w.Line("float* pj = p + j;");
                for (int c = 0; c < vectors; c++)
                {
                    w.Line($"{v.Type} v{c} = {v.Load($"vj + {Inv(c * width)}")};");
                }
                for (int r = 0; r < rows; r++)
                {
                    w.Line($"{v.Type} p{r} = {v.Broadcast($"pj[{Inv((r0 + r) * bc)}]")};");
                    for (int c = 0; c < vectors; c++)
                    {
                        w.Line($"o{r}_{c} = {v.Fma($"p{r}", $"v{c}", $"o{r}_{c}")};");
                    }
                }
            }
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < vectors; c++)
                {
                    w.Line($"{v.Store($"o{r}_{c}", $"o + {Inv((r0 + r) * dimPad + c * width)} + {c0}")};");
                }
            }
        }
    }
}
