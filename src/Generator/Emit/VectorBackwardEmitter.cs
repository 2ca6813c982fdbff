using System.Collections.Generic;
using AttnGen.Generator.Model;
using Planner = AttnGen.Generator.Planning.KernelPlanner;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit
{
    /// <summary>
    /// Emits one vector path's <c>BackwardCore__{isa}</c>, the FlashAttention-2 backward of the attention core that
    /// <c>BackwardSequence__{isa}</c> (<see cref="BackwardEmitter.EmitSequence"/>) calls between the projections' backward.
    /// Per key/value head, keys and values are packed so every inner loop is a unit-stride vector load; per query
    /// head and tile of Br rows, key blocks of Bc recompute P = e^(S - LSE) from the saved row log-sum-exp and
    /// accumulate dV += Pᵀ·dO, dS = P ∘ (dP - Δ), dK += dSᵀ·Q and dQ += dS·K (the additive score's gradient
    /// instead of the last two). Nothing is ever S x S: the work area is O(S·HeadDim) per head.
    /// </summary>
    /// <remarks>
    /// Tiles: Br = ScoreRows query rows by Bc = KeyBlock keys (fewer for a shorter key sequence, as in the
    /// forward): the forward's attention tile, so the register budgets are the forward's (see <see cref="IsaProfile.Vector"/>):
    /// <list type="bullet">
    /// <item>S = Q·Kᵀ and dP = dO·Vᵀ: Br x ScoreVectors accumulators + ScoreVectors key (or value) vectors + 1
    /// broadcast: AVX-512 6x4: 24 + 4 + 1 = 29 of 32 zmm; AVX2 6x2: 12 + 2 + 1 = 15 of 16 ymm; 128-bit 4x4:
    /// 16 + 4 + 1 = 21 (Neon has 32 q registers, SSE spills a little, a fallback there).</item>
    /// <item>dV += Pᵀ·dO and dK += dSᵀ·Q: the tile's dO (or Q) rows stay in registers, PvRows x PvVectors of them,
    /// while each key row of the block streams through: PvVectors accumulators + 1 broadcast. The same
    /// counts: 24 + 4 + 1, 12 + 2 + 1, 16 + 4 + 1.</item>
    /// <item>dQ += dS·K: the forward's P·V tile, PvRows x PvVectors accumulators + PvVectors key vectors + 1.</item>
    /// </list>
    /// P and dS of one tile are Br x Bc floats each (3 KB on AVX-512), the dK and dV rows of one key block
    /// Bc x HeadDim: all of it stays in L1 while the tile works on it.
    /// </remarks>
    internal static class VectorBackwardEmitter
    {
        /// <summary>
        /// The work-area constants of the vector backward, after <c>WorkTiles</c>, sized for the largest path,
        /// ending with <c>WorkTilesLength</c>.
        /// </summary>
        public static void EmitWorkConstants(SourceWriter w, KernelPlan plan)
        {
            LayerSpec s = plan.Spec;
            int keyPad = 0, dimPad = 0, rows = 0, block = 0;
            foreach (IsaProfile isa in IsaProfile.Vector)
            {
                keyPad = System.Math.Max(keyPad, KeyPad(plan, isa));
                dimPad = System.Math.Max(dimPad, Planner.RoundUp(s.HeadDim, isa.Width));
                rows = System.Math.Max(rows, TileRows(plan, isa));
                block = System.Math.Max(block, Block(plan, isa));
            }
            w.Line($"// Vector backward tiles, sized for the largest path: per key/value head Kᵀ and Vᵀ in key blocks ({Inv(keyPad)} keys),");
            w.Line($"// K rows and the dK, dV accumulators [{Inv(keyPad)}, {Inv(dimPad)}]; per query tile the Q, dO and dQ rows");
            w.Line($"// [{Inv(rows)}, {Inv(dimPad)}], P and dS [{Inv(rows)}, {Inv(block)}]{(plan.IsAdditive ? $"; additive v and its gradient [{Inv(dimPad)}]" : "")}.");
            var parts = new List<(string Name, int Length)>
            {
                ("WorkTileKeysT", s.HeadDim * keyPad),
                ("WorkTileValuesT", s.HeadDim * keyPad),
                ("WorkTileKeys", keyPad * dimPad),
                ("WorkTileKeyGrad", keyPad * dimPad),
                ("WorkTileValueGrad", keyPad * dimPad),
                ("WorkTileQuery", rows * dimPad),
                ("WorkTileOutGrad", rows * dimPad),
                ("WorkTileQueryGrad", rows * dimPad),
                ("WorkTileProb", rows * block),
                ("WorkTileScoreGrad", rows * block),
            };
            if (plan.IsAdditive)
            {
                parts.Add(("WorkTileAdditiveV", dimPad));
                parts.Add(("WorkTileAdditiveVGrad", dimPad));
            }
            int offset = 0;
            foreach ((string name, int length) in parts)
            {
                w.Line($"private const int {name} = WorkTiles + {Inv(offset)};");
                offset += (length + 15) / 16 * 16;
            }
            w.Line($"private const int WorkTilesLength = {Inv(offset)};");
        }

        /// <summary>
        /// <c>BackwardCore__{isa}</c> and its helpers; <see cref="BackwardEmitter.EmitSequence"/> emits the
        /// <c>BackwardSequence__{isa}</c> that calls it.
        /// </summary>
        public static void Emit(SourceWriter w, KernelPlan plan, IsaProfile isa)
        {
            EmitHeadDot(w, plan, isa);
            EmitScoreGradient(w, plan, isa);
            EmitCore(w, plan, isa);
        }

        /// <summary>Keys per block (Bc): the forward's choice for this shape, the profile's block or less for short sequences.</summary>
        private static int Block(KernelPlan plan, IsaProfile isa) => VectorAttentionEmitter.KeyBlock(plan, isa);

        /// <summary>Key vectors per score and dP sub-tile: the profile's, or fewer when the whole block is narrower.</summary>
        private static int SubTileVectors(KernelPlan plan, IsaProfile isa) => System.Math.Min(isa.ScoreVectors, Block(plan, isa) / isa.Width);

        private static int KeyPad(KernelPlan plan, IsaProfile isa) => Planner.RoundUp(plan.Spec.KvSeqLen, Block(plan, isa));

        private static int DimPad(KernelPlan plan, IsaProfile isa) => Planner.RoundUp(plan.Spec.HeadDim, isa.Width);

        /// <summary>
        /// Whether dQ += dS·K (and the additive gradient) can read the keys in place, row stride KvWidth: every key
        /// block is whole and the head dimension whole vectors (the forward's rule for values), so no load leaves
        /// the keys; otherwise they are copied into [keyPad, dimPad] with zero padding.
        /// </summary>
        private static bool KeysInPlace(KernelPlan plan, IsaProfile isa)
            => plan.Spec.KvSeqLen % Block(plan, isa) == 0 && plan.Spec.HeadDim % isa.Width == 0;

        private static string KeyStride(KernelPlan plan, IsaProfile isa) => KeysInPlace(plan, isa) ? "KvWidth" : Inv(DimPad(plan, isa));

        /// <summary>
        /// <c>HeadDot__{isa}</c>: Δ = Σ_d a[d]·b[d] over HeadDim floats, one multiply-add after another in d order
        /// with the path's multiply-add, exactly as each lane of the dP tile sums dO·V. A row that sees a single key
        /// has O = V, so dP - Δ is then exactly 0 (as it is mathematically) instead of rounding noise. O(HeadDim)
        /// per row against the tile's O(KvSeqLen·HeadDim), so the order costs nothing that shows.
        /// </summary>
        private static void EmitHeadDot(SourceWriter w, KernelPlan plan, IsaProfile isa)
        {
            string multiplyAdd = isa.FusedMultiplyAdd ? "global::System.MathF.FusedMultiplyAdd" : "float.MultiplyAddEstimate";
            w.Line($"// HeadDot__{isa.Suffix}: Σ_d a[d]·b[d] over HeadDim floats, summed like a lane of the dP tile (so dP - Δ cancels exactly");
            w.Line("// for a row that sees one key); nothing past HeadDim is read.");
            using (w.Open($"private static unsafe float HeadDot__{isa.Suffix}(float* a, float* b)"))
            {
                w.Line("float sum = 0f;");
                w.Line($"for (int d = 0; d < HeadDim; d++) sum = {multiplyAdd}(a[d], b[d], sum);");
                w.Line("return sum;");
            }
            w.Line();
        }

        private static void EmitCore(SourceWriter w, KernelPlan plan, IsaProfile isa)
        {
            LayerSpec s = plan.Spec;
            int br = TileRows(plan, isa), bc = Block(plan, isa);
            int fullTiles = s.SeqLen / br, remainder = s.SeqLen % br;
            int keyPad = KeyPad(plan, isa), dimPad = DimPad(plan, isa);

            w.Line($"// BackwardCore__{isa.Suffix}: per key/value head Kᵀ and Vᵀ packed in {Inv(keyPad / bc)} blocks of [{Inv(s.HeadDim)}, {Inv(bc)}] (score and dP tiles),");
            w.Line(KeysInPlace(plan, isa)
                ? $"// K rows read in place (dQ += dS·K), dK and dV accumulated in [{Inv(keyPad)}, {Inv(dimPad)}]; per query head of the group, tiles of"
                : $"// K rows packed [{Inv(keyPad)}, {Inv(dimPad)}] (dQ += dS·K), dK and dV accumulated in [{Inv(keyPad)}, {Inv(dimPad)}]; per query head of the group, tiles of");
            w.Line($"// {Inv(br)} rows ({Inv(fullTiles)} full{(remainder > 0 ? $", then one with {Inv(remainder)} rows of the sequence" : "")}) walk the visible key blocks of {Inv(bc)}.");
            using (w.Open($"private static unsafe void BackwardCore__{isa.Suffix}(float* q, float* k, float* v, float* o, float* dO, float* dq, float* dk, float* dv, float* lse, float* parameters, float* grad, int validLength, float* work)"))
            {
                if (plan.IsAdditive)
                {
                    w.Line("float* additiveV = parameters + AdditiveVOffset;");
                    w.Line("float* additiveVGrad = grad + AdditiveVOffset;");
                }
                else
                {
                    w.Line("_ = parameters; _ = grad;");
                }
                w.Line("float* kt = work + WorkTileKeysT;");
                w.Line("float* vt = work + WorkTileValuesT;");
                w.Line("float* dkAcc = work + WorkTileKeyGrad;");
                w.Line("float* dvAcc = work + WorkTileValueGrad;");
                w.Line("// Only the first HeadDim floats of a tile row are ever written: the padding stays zero and adds nothing.");
                w.Line($"new global::System.Span<float>(work + WorkTileQuery, {Inv(br * dimPad)}).Clear();");
                w.Line($"new global::System.Span<float>(work + WorkTileOutGrad, {Inv(br * dimPad)}).Clear();");
                if (plan.IsAdditive)
                {
                    w.Line("float* va = work + WorkTileAdditiveV;");
                    w.Line("float* dva = work + WorkTileAdditiveVGrad;");
                    w.Line($"new global::System.Span<float>(va, {Inv(dimPad)}).Clear();");
                }
                using (w.Open("for (int g = 0; g < KvHeads; g++)"))
                {
                    w.Line($"global::AttnGen.KernelSupport.PackKeyBlocks(k + g * HeadDim, KvWidth, KvSeqLen, HeadDim, {Inv(keyPad)}, {Inv(bc)}, kt);");
                    w.Line($"global::AttnGen.KernelSupport.PackKeyBlocks(v + g * HeadDim, KvWidth, KvSeqLen, HeadDim, {Inv(keyPad)}, {Inv(bc)}, vt);");
                    if (KeysInPlace(plan, isa))
                    {
                        w.Line("float* kr = k + g * HeadDim; // whole key blocks and vectors: dQ += dS·K reads the keys where they are");
                    }
                    else
                    {
                        w.Line("float* kr = work + WorkTileKeys;");
                        w.Line($"global::AttnGen.KernelSupport.PackValues(k + g * HeadDim, KvWidth, KvSeqLen, HeadDim, {Inv(keyPad)}, {Inv(dimPad)}, kr);");
                    }
                    w.Line($"new global::System.Span<float>(dkAcc, {Inv(keyPad * dimPad)}).Clear();");
                    w.Line($"new global::System.Span<float>(dvAcc, {Inv(keyPad * dimPad)}).Clear();");
                    w.Line("// The query heads of the group share this head's dK and dV.");
                    using (w.Open("for (int h = g * GroupSize; h < g * GroupSize + GroupSize; h++)"))
                    {
                        w.Line("float* qh = q + h * HeadDim;");
                        w.Line("float* oh = o + h * HeadDim;");
                        w.Line("float* doh = dO + h * HeadDim;");
                        w.Line("float* dqh = dq + h * HeadDim;");
                        w.Line("float* lh = lse + h * SeqLen;");
                        if (plan.IsAdditive)
                        {
                            w.Line("new global::System.ReadOnlySpan<float>(additiveV + h * HeadDim, HeadDim).CopyTo(new global::System.Span<float>(va, HeadDim));");
                            w.Line($"new global::System.Span<float>(dva, {Inv(dimPad)}).Clear();");
                        }
                        string rows = remainder > 0 ? $", {Inv(br)}" : "";
                        if (fullTiles > 0)
                        {
                            using (w.Open($"for (int i0 = 0; i0 < {Inv(fullTiles * br)}; i0 += {Inv(br)})"))
                            {
                                w.Line($"BackwardTile__{isa.Suffix}(qh + i0 * QueryWidth, oh + i0 * QueryWidth, doh + i0 * QueryWidth, dqh + i0 * QueryWidth, lh + i0, i0{rows}, validLength, kr, work);");
                            }
                        }
                        if (remainder > 0)
                        {
                            string i0 = Inv(fullTiles * br);
                            w.Line($"BackwardTile__{isa.Suffix}(qh + {i0} * QueryWidth, oh + {i0} * QueryWidth, doh + {i0} * QueryWidth, dqh + {i0} * QueryWidth, lh + {i0}, {i0}, {Inv(remainder)}, validLength, kr, work);");
                        }
                        if (plan.IsAdditive)
                        {
                            w.Line("global::AttnGen.KernelSupport.AddInto(additiveVGrad + h * HeadDim, dva, HeadDim);");
                        }
                    }
                    w.Line("// dK and dV of this key/value head into their rows (each element is written once).");
                    using (w.Open("for (int j = 0; j < KvSeqLen; j++)"))
                    {
                        w.Line($"new global::System.ReadOnlySpan<float>(dkAcc + j * {Inv(dimPad)}, HeadDim).CopyTo(new global::System.Span<float>(dk + j * KvWidth + g * HeadDim, HeadDim));");
                        w.Line($"new global::System.ReadOnlySpan<float>(dvAcc + j * {Inv(dimPad)}, HeadDim).CopyTo(new global::System.Span<float>(dv + j * KvWidth + g * HeadDim, HeadDim));");
                    }
                }
            }
            w.Line();

            EmitTile(w, plan, isa, br, partial: remainder > 0);
        }

        /// <summary>
        /// Query rows per tile: the profile's Br, or the whole sequence when it is shorter. A sequence that is not a
        /// multiple of it ends in a tile whose rows past the sequence are zeros that contribute nothing.
        /// </summary>
        private static int TileRows(KernelPlan plan, IsaProfile isa) => System.Math.Min(isa.ScoreRows, plan.Spec.SeqLen);

        /// <summary>
        /// <c>BackwardTile__{isa}</c>: one tile of <paramref name="rows"/> query rows against every visible key
        /// block. With <paramref name="partial"/>, it takes n, the rows of the tile inside the sequence.
        /// </summary>
        private static void EmitTile(SourceWriter w, KernelPlan plan, IsaProfile isa, int rows, bool partial)
        {
            LayerSpec s = plan.Spec;
            var v = new VectorSyntax(isa);
            int width = isa.Width, bc = Block(plan, isa), nc = SubTileVectors(plan, isa);
            int subTiles = bc / (nc * width);
            int dimPad = DimPad(plan, isa);
            string vis(int r) => s.Causal ? $"visible{Inv(r)}" : "visible";

            string n = partial ? "n" : Inv(rows);
            w.Line(partial
                ? $"// BackwardTile__{isa.Suffix}: query rows i0 .. i0 + n - 1 (n <= {Inv(rows)}) of one head against every visible key block."
                : $"// BackwardTile__{isa.Suffix}: query rows i0 .. i0 + {Inv(rows - 1)} of one head against every visible key block.");
            using (w.Open($"private static unsafe void BackwardTile__{isa.Suffix}(float* q, float* o, float* dO, float* dq, float* lse, int i0{(partial ? ", int n" : "")}, int validLength, float* kr, float* work)"))
            {
                w.Line("float* kt = work + WorkTileKeysT;");
                w.Line("float* vt = work + WorkTileValuesT;");
                w.Line("float* dkAcc = work + WorkTileKeyGrad;");
                w.Line("float* dvAcc = work + WorkTileValueGrad;");
                w.Line("float* qt = work + WorkTileQuery;");
                w.Line("float* dot = work + WorkTileOutGrad;");
                w.Line("float* dqt = work + WorkTileQueryGrad;");
                w.Line("float* p = work + WorkTileProb;");
                w.Line("float* ds = work + WorkTileScoreGrad;");
                if (plan.IsAdditive)
                {
                    w.Line("float* va = work + WorkTileAdditiveV;");
                    w.Line("float* dva = work + WorkTileAdditiveVGrad;");
                }
                w.Line($"float* delta = stackalloc float[{Inv(rows)}];");
                w.Line($"float* rowLse = stackalloc float[{Inv(rows)}];");
                w.Line($"// Q and dO rows of the tile into [{Inv(rows)}, {Inv(dimPad)}]; Δ_r = dO_r · O_r; the saved LSE_r (-inf for a row that saw no key:");
                w.Line(partial
                    ? "// its keys are all masked below). Rows from n on, past the sequence, are zeros with LSE = +inf, so their P is 0."
                    : "// its keys are all masked below).");
                using (w.Open($"for (int r = 0; r < {Inv(rows)}; r++)"))
                {
                    w.Line($"float* qr = qt + r * {Inv(dimPad)};");
                    w.Line($"float* dr = dot + r * {Inv(dimPad)};");
                    void Load()
                    {
                        w.Line("new global::System.ReadOnlySpan<float>(q + r * QueryWidth, HeadDim).CopyTo(new global::System.Span<float>(qr, HeadDim));");
                        w.Line("new global::System.ReadOnlySpan<float>(dO + r * QueryWidth, HeadDim).CopyTo(new global::System.Span<float>(dr, HeadDim));");
                        w.Line($"delta[r] = HeadDot__{isa.Suffix}(dr, o + r * QueryWidth);");
                        w.Line("rowLse[r] = lse[r];");
                    }
                    if (!partial)
                    {
                        Load();
                    }
                    else
                    {
                        using (w.Open("if (r < n)"))
                        {
                            Load();
                        }
                        using (w.Open("else"))
                        {
                            w.Line("new global::System.Span<float>(qr, HeadDim).Clear();");
                            w.Line("new global::System.Span<float>(dr, HeadDim).Clear();");
                            w.Line("delta[r] = 0f;");
                            w.Line("rowLse[r] = float.PositiveInfinity;");
                        }
                    }
                }
                w.Line($"new global::System.Span<float>(dqt, {Inv(rows * dimPad)}).Clear();");
                if (s.Causal)
                {
                    w.Line("// Causal: row r sees keys below limit_r; keyEnd skips the blocks above the tile's last row.");
                    for (int r = 0; r < rows; r++)
                    {
                        w.Line($"int limit{r} = global::System.Math.Min(validLength, i0 + {Inv(r)} + CausalOffset + 1);");
                    }
                    w.Line($"int keyEnd = global::System.Math.Min(validLength, i0 + {n} + CausalOffset);");
                }
                else
                {
                    w.Line("int keyEnd = validLength;");
                }
                w.Line("// Key index of each lane within a sub-tile, for the mask.");
                for (int c = 0; c < nc; c++)
                {
                    w.Line(c == 0
                        ? $"{v.Type} column0 = {v.Type}.Indices;"
                        : $"{v.Type} column{c} = {v.Type}.Indices + AgVec.Create({Inv(c * width)}f);");
                }
                using (w.Open($"for (int j0 = 0; j0 < keyEnd; j0 += {Inv(bc)})"))
                {
                    int subWidth = nc * width;
                    using (subTiles > 1
                        ? w.Open($"for (int jb = j0; jb < j0 + {Inv(bc)}; jb += {Inv(subWidth)}) // sub-tiles of {Inv(subWidth)} keys")
                        : w.Open("// one sub-tile: the whole block"))
                    {
                        if (subTiles == 1)
                        {
                            w.Line("int jb = j0;");
                        }
                        w.Line("float* pb = p + (jb - j0);");
                        w.Line("float* dsb = ds + (jb - j0);");
                        w.Line("// Lanes at or past visible are masked (P = 0): past the valid length" + (s.Causal ? " or above the diagonal." : "."));
                        if (s.Causal)
                        {
                            for (int r = 0; r < rows; r++)
                            {
                                w.Line($"{v.Type} visible{r} = AgVec.Create((float)(limit{r} - jb));");
                            }
                        }
                        else
                        {
                            w.Line($"{v.Type} visible = AgVec.Create((float)(validLength - jb));");
                        }
                        EmitProductTile(w, plan, isa, rows, dimPad, scores: false, vis);
                        EmitProductTile(w, plan, isa, rows, dimPad, scores: true, vis);
                    }
                    EmitTransposedUpdate(w, plan, isa, rows, dimPad, "dvAcc", "dot", "p", "dV", "Pᵀ · dO");
                    if (plan.IsAdditive)
                    {
                        EmitAdditiveGradient(w, plan, isa, n, dimPad);
                    }
                    else
                    {
                        EmitTransposedUpdate(w, plan, isa, rows, dimPad, "dkAcc", "qt", "ds", "dK", "dSᵀ · Q");
                        EmitQueryGradient(w, plan, isa, rows, dimPad);
                    }
                }
                w.Line("// The dQ tile into the rows of dq.");
                using (w.Open($"for (int r = 0; r < {n}; r++)"))
                {
                    w.Line($"new global::System.ReadOnlySpan<float>(dqt + r * {Inv(dimPad)}, HeadDim).CopyTo(new global::System.Span<float>(dq + r * QueryWidth, HeadDim));");
                }
            }
            w.Line();
        }

        /// <summary>
        /// One Br x (ScoreVectors · W) sub-tile at key jb. With <paramref name="scores"/> false: dP = dO · Vᵀ, stored
        /// into dS. With it true: S = Q · Kᵀ (or the additive score), then per vector <c>ScoreGradient__{isa}</c>.
        /// </summary>
        private static void EmitProductTile(SourceWriter w, KernelPlan plan, IsaProfile isa, int rows, int dimPad, bool scores, System.Func<int, string> vis)
        {
            var v = new VectorSyntax(isa);
            int nc = SubTileVectors(plan, isa), width = isa.Width, bc = Block(plan, isa);
            string range = $"[0..{Inv(rows - 1)}, jb .. jb + {Inv(nc * width - 1)}]";
            if (scores)
            {
                string formula = plan.IsAdditive ? "Σ_d v[d] · tanh(q[r, d] + k[d, j])" : "q[r, :] · k[:, j]";
                w.Line($"// S{range} = {formula}; P = e^(S{(plan.HasScale ? "·scale" : "")} - LSE) on visible keys, else 0; dS = P ∘ (dP - Δ){(plan.HasScale ? "·scale" : "")}.");
            }
            else
            {
                w.Line($"// dP{range} = dO[r, :] · v[:, j]: {Inv(rows * nc)} accumulators.");
            }
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
                string packed = scores ? "kt" : "vt";
                string broadcast = scores ? "qt" : "dot";
                w.Line($"float* b = {packed} + j0 * HeadDim + (jb - j0); // block j0 / {Inv(bc)}: [HeadDim, {Inv(bc)}]");
                using (w.Open("for (int d = 0; d < HeadDim; d++)"))
                {
                    w.Line($"float* bd = b + d * {Inv(bc)};");
                    for (int c = 0; c < nc; c++)
                    {
                        w.Line($"{v.Type} k{c} = {v.Load($"bd + {Inv(c * width)}")};");
                    }
                    bool additive = scores && plan.IsAdditive;
                    if (additive)
                    {
                        w.Line($"{v.Type} vd = {v.Broadcast("va[d]")};");
                    }
                    for (int r = 0; r < rows; r++)
                    {
                        w.Line($"{v.Type} a{r} = {v.Broadcast($"{broadcast}[{Inv(r * dimPad)} + d]")};");
                        for (int c = 0; c < nc; c++)
                        {
                            w.Line(additive
                                ? $"s{r}_{c} = {v.Fma("vd", $"Tanh__{isa.Suffix}(a{r} + k{c})", $"s{r}_{c}")};"
                                : $"s{r}_{c} = {v.Fma($"a{r}", $"k{c}", $"s{r}_{c}")};");
                        }
                    }
                }
                for (int r = 0; r < rows; r++)
                {
                    for (int c = 0; c < nc; c++)
                    {
                        string at = $"{Inv(r * bc + c * width)}";
                        w.Line(scores
                            ? $"ScoreGradient__{isa.Suffix}(s{r}_{c}, AgVec.LessThan(column{c}, {vis(r)}), rowLse[{Inv(r)}], delta[{Inv(r)}], pb + {at}, dsb + {at});"
                            : $"{v.Store($"s{r}_{c}", $"dsb + {at}")};");
                    }
                }
            }
        }

        /// <summary>
        /// <c>ScoreGradient__{isa}</c>: one vector of a score tile to P and dS, inlined into the tile.
        /// </summary>
        private static void EmitScoreGradient(SourceWriter w, KernelPlan plan, IsaProfile isa)
        {
            var v = new VectorSyntax(isa);
            string scaled = plan.HasScale ? "·scale" : "";
            w.Line($"// ScoreGradient__{isa.Suffix}: P = e^(S{scaled} - LSE) on the visible lanes, 0 on the others, into p; dS = P ∘ (dP - Δ){scaled} into ds, which holds dP.");
            w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]");
            using (w.Open($"private static unsafe void ScoreGradient__{isa.Suffix}({v.Type} s, {v.Type} visible, float lse, float delta, float* p, float* ds)"))
            {
                string x = plan.HasScale ? v.Fma("s", "AgVec.Create(ScoreScale)", "AgVec.Create(-lse)") : "s - AgVec.Create(lse)";
                w.Line($"{v.Type} e = AgVec.ConditionalSelect(visible, {v.Exp(x)}, {v.Type}.Zero);");
                w.Line($"{v.Store("e", "p")};");
                string ds = $"e * ({v.Load("ds")} - AgVec.Create(delta))";
                w.Line($"{v.Store(plan.HasScale ? ds + " * AgVec.Create(ScoreScale)" : ds, "ds")};");
            }
            w.Line();
        }

        /// <summary>
        /// acc[j0 + j, :] += Σ_r coefficient[r, j] · rows[r, :] over the block's Bc keys: the tile's rows, PvVectors
        /// vectors of each at a time, stay in registers while the key rows of the accumulator stream through.
        /// </summary>
        private static void EmitTransposedUpdate(SourceWriter w, KernelPlan plan, IsaProfile isa, int rows, int dimPad, string acc, string source, string coefficient, string name, string formula)
        {
            var v = new VectorSyntax(isa);
            int bc = Block(plan, isa);
            EmitInChunks(w, isa, rows, dimPad,
                (r0, rc, columns) => $"{name}[j0 .. j0 + {Inv(bc - 1)}, {columns}] += {formula}{(rows > isa.PvRows ? $" (rows {Inv(r0)}..{Inv(r0 + rc - 1)})" : "")}",
                (r0, rc, vectors) => EmitTransposedTile(w, v, r0, rc, vectors, isa.Width, bc, dimPad, acc, source, coefficient));
        }

        /// <summary>
        /// A rows x dimPad update in register tiles of PvRows x PvVectors: per group of rows, a loop over whole
        /// chunks of PvVectors vectors, then one tile for the vectors left (<c>c0</c> is a chunk's first column).
        /// </summary>
        private static void EmitInChunks(SourceWriter w, IsaProfile isa, int rows, int dimPad, System.Func<int, int, string, string> comment, System.Action<int, int, int> tile)
        {
            int width = isa.Width, dimVectors = dimPad / width, chunk = isa.PvVectors;
            for (int r0 = 0; r0 < rows; r0 += isa.PvRows)
            {
                int rc = System.Math.Min(isa.PvRows, rows - r0);
                int fullChunks = dimVectors / chunk, rest = dimVectors % chunk;
                if (fullChunks > 0)
                {
                    w.Line($"// {comment(r0, rc, ":")}, {Inv(chunk)} vectors at a time.");
                    using (w.Open($"for (int c0 = 0; c0 < {Inv(fullChunks * chunk * width)}; c0 += {Inv(chunk * width)})"))
                    {
                        tile(r0, rc, chunk);
                    }
                }
                if (rest > 0)
                {
                    w.Line($"// {comment(r0, rc, $"last {Inv(rest)} vectors")}.");
                    using (w.Open(""))
                    {
                        w.Line($"const int c0 = {Inv(fullChunks * chunk * width)};");
                        tile(r0, rc, rest);
                    }
                }
            }
        }

        private static void EmitTransposedTile(SourceWriter w, VectorSyntax v, int r0, int rows, int vectors, int width, int bc, int dimPad, string acc, string source, string coefficient)
        {
            for (int r = 0; r < rows; r++)
            {
                var parts = new List<string>();
                for (int c = 0; c < vectors; c++)
                {
                    parts.Add($"x{r}_{c} = {v.Load($"{source} + {Inv((r0 + r) * dimPad + c * width)} + c0")}");
                }
                w.Line($"{v.Type} {string.Join(", ", parts)};");
            }
            using (w.Open($"for (int j = 0; j < {Inv(bc)}; j++)"))
            {
                w.Line($"float* a = {acc} + (j0 + j) * {Inv(dimPad)} + c0;");
                var loads = new List<string>();
                for (int c = 0; c < vectors; c++)
                {
                    loads.Add($"a{c} = {v.Load($"a + {Inv(c * width)}")}");
                }
                w.Line($"{v.Type} {string.Join(", ", loads)};");
                for (int r = 0; r < rows; r++)
                {
                    w.Line($"{v.Type} b{r} = {v.Broadcast($"{coefficient}[{Inv((r0 + r) * bc)} + j]")};");
                    for (int c = 0; c < vectors; c++)
                    {
                        w.Line($"a{c} = {v.Fma($"b{r}", $"x{r}_{c}", $"a{c}")};");
                    }
                }
                for (int c = 0; c < vectors; c++)
                {
                    w.Line($"{v.Store($"a{c}", $"a + {Inv(c * width)}")};");
                }
            }
        }

        /// <summary>dQ[rows, :] += dS[rows, Bc] · K[j0 .. j0 + Bc, :], the forward's P·V register tile.</summary>
        private static void EmitQueryGradient(SourceWriter w, KernelPlan plan, IsaProfile isa, int rows, int dimPad)
        {
            var v = new VectorSyntax(isa);
            int bc = Block(plan, isa);
            string keyStride = KeyStride(plan, isa);
            EmitInChunks(w, isa, rows, dimPad,
                (r0, rc, columns) => $"dQ[{Inv(r0)}..{Inv(r0 + rc - 1)}, {columns}] += dS · K",
                (r0, rc, vectors) => EmitQueryGradientTile(w, v, r0, rc, vectors, isa.Width, bc, dimPad, keyStride));
        }

        private static void EmitQueryGradientTile(SourceWriter w, VectorSyntax v, int r0, int rows, int vectors, int width, int bc, int dimPad, string keyStride)
        {
            for (int r = 0; r < rows; r++)
            {
                var parts = new List<string>();
                for (int c = 0; c < vectors; c++)
                {
                    parts.Add($"o{r}_{c} = {v.Load($"dqt + {Inv((r0 + r) * dimPad + c * width)} + c0")}");
                }
                w.Line($"{v.Type} {string.Join(", ", parts)};");
            }
            using (w.Open($"for (int j = 0; j < {Inv(bc)}; j++)"))
            {
                w.Line($"float* kj = kr + (j0 + j) * {keyStride} + c0;");
                for (int c = 0; c < vectors; c++)
                {
                    w.Line($"{v.Type} k{c} = {v.Load($"kj + {Inv(c * width)}")};");
                }
                for (int r = 0; r < rows; r++)
                {
                    w.Line($"{v.Type} b{r} = {v.Broadcast($"ds[{Inv((r0 + r) * bc)} + j]")};");
                    for (int c = 0; c < vectors; c++)
                    {
                        w.Line($"o{r}_{c} = {v.Fma($"b{r}", $"k{c}", $"o{r}_{c}")};");
                    }
                }
            }
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < vectors; c++)
                {
                    w.Line($"{v.Store($"o{r}_{c}", $"dqt + {Inv((r0 + r) * dimPad + c * width)} + c0")};");
                }
            }
        }

        /// <summary>
        /// The additive score's gradient for one block, vectorised over d: t = tanh(q_r + k_j),
        /// u = dS_rj · v ∘ (1 - t²); dQ_r += u, dK_j += u, dv += dS_rj · t. Per row and vector of d, the dQ and dv
        /// sums stay in registers across the row's visible keys.
        /// </summary>
        private static void EmitAdditiveGradient(SourceWriter w, KernelPlan plan, IsaProfile isa, string rows, int dimPad)
        {
            var v = new VectorSyntax(isa);
            int width = isa.Width, bc = Block(plan, isa);
            w.Line("// Additive: t = tanh(q_r + k_j) per d; u = dS_rj · v ∘ (1 - t²); dQ_r += u, dK_j += u, dv += dS_rj · t (visible keys only).");
            using (w.Open($"for (int r = 0; r < {rows}; r++)"))
            {
                w.Line(plan.Spec.Causal
                    ? $"int jEnd = global::System.Math.Min({Inv(bc)}, global::System.Math.Min(validLength, i0 + r + CausalOffset + 1) - j0);"
                    : $"int jEnd = global::System.Math.Min({Inv(bc)}, validLength - j0);");
                w.Line($"float* dsr = ds + r * {Inv(bc)};");
                using (w.Open($"for (int c = 0; c < {Inv(dimPad)}; c += {Inv(width)})"))
                {
                    w.Line($"{v.Type} qv = {v.Load($"qt + r * {Inv(dimPad)} + c")}, vv = {v.Load("va + c")};");
                    w.Line($"{v.Type} dqv = {v.Type}.Zero, dvav = {v.Type}.Zero;");
                    using (w.Open("for (int j = 0; j < jEnd; j++)"))
                    {
                        w.Line($"{v.Type} g = {v.Broadcast("dsr[j]")};");
                        w.Line($"{v.Type} t = Tanh__{isa.Suffix}(qv + {v.Load($"kr + (j0 + j) * {KeyStride(plan, isa)} + c")});");
                        w.Line($"dvav = {v.Fma("g", "t", "dvav")};");
                        w.Line($"{v.Type} u = g * vv * ({v.Type}.One - t * t);");
                        w.Line("dqv += u;");
                        w.Line($"float* dkj = dkAcc + (j0 + j) * {Inv(dimPad)} + c;");
                        w.Line($"{v.Store($"{v.Load("dkj")} + u", "dkj")};");
                    }
                    w.Line($"{v.Store($"{v.Load($"dqt + r * {Inv(dimPad)} + c")} + dqv", $"dqt + r * {Inv(dimPad)} + c")};");
                    w.Line($"{v.Store($"{v.Load("dva + c")} + dvav", "dva + c")};");
                }
            }
        }
    }
}
