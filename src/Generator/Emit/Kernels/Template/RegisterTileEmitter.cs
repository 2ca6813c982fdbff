using System.Collections.Generic;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Template
{
    /// <summary>
    /// Renders one <see cref="TileProduct"/> for one vector profile: the accumulators of the tile in registers, a
    /// loop over the reduction that loads the vectors of one row of B and broadcasts one element of A per tile row,
    /// then the store; around it, a loop over the column blocks of <c>width</c> columns (and for the transposed tile
    /// the row blocks of <c>height</c> rows), so one call covers a whole key block or head. Only the tile is unrolled;
    /// every loop stays a loop.
    /// A profile with <see cref="IsaProfile.ByLane"/> (the 128-bit path) adds, where the by-element multiply-add is one
    /// instruction (Arm64), a loop that takes four reduction steps at a time: A loaded as one vector per row, each of
    /// its elements used by lane; the broadcast loop then does the steps left. Where it is not (x64's SSE), a tile
    /// with more rows than <see cref="IsaProfile.PassRegisters"/> registers hold is computed by smaller broadcast-only
    /// tiles (<see cref="TileProduct.Pass"/>), one call per group of rows. A score tile that
    /// <see cref="TileProduct.Narrows"/> hands the columns left after its whole blocks (whole vectors, fewer than a
    /// tile) to its one-vector instance, so a key block's last scored keys cost a vector each, not a tile.
    /// </summary>
    internal static class RegisterTileEmitter
    {
        /// <param name="w">Where to write.</param>
        /// <param name="tile">The kernel.</param>
        /// <param name="v">The path's syntax.</param>
        /// <param name="use">Records a further kernel this one calls and returns its name (the row passes).</param>
        public static void Emit(SourceWriter w, TileProduct tile, VectorSyntax v, System.Func<TileProduct, string> use)
        {
            int width = v.Isa.Width, rows = tile.Rows, columns = tile.Columns;
            int vectors = (columns + width - 1) / width, tail = columns % width;
            string name = tile.Name(v.Isa);
            string Load(string pointer, int c) => c == vectors - 1 && tail > 0 ? v.LoadTail(pointer, "tail") : v.Load(pointer);
            string Store(string value, string pointer, int c) => c == vectors - 1 && tail > 0 ? v.StoreTail(value, pointer, "tail") : v.Store(value, pointer);
            string At(string pointer, int c) => PointerAt(pointer, Inv(c * width));
            // A tile row's address is its row's start with the column offset on it (not one summed index), so the
            // row start is computed once and the constant folds into each load's and store's displacement.
            string Row(int r, int c) => At(r == 0 ? "tc" : PointerAt("tc", $"{Inv(r)} * ldc"), c);

            (string formula, string parameters) = tile.Op switch
            {
                TileOp.Gemm => ($"C = init + A·B over {Inv(tile.Depth)}", "float* a, float* b, int ldb, float* init, float* c, int ldc, int width"),
                TileOp.GemmScaled => ("C = alpha[r]·C + A·B over depth", "float* a, int depth, float* b, int ldb, float* alpha, float* c, int ldc, int width"),
                TileOp.GemmTransposed => ("C += Aᵀ·B over depth", "float* a, int lda, int depth, float* b, int ldb, float* c, int ldc, int height, int width"),
                _ => ($"C = Σ_t<{Inv(tile.Depth)} v[t]·tanh(A[r, t] + B[t, :])", "float* a, float* b, int ldb, float* va, float* c, int ldc, int width"),
            };
            bool narrows = tile.Narrows;
            string unit = width == 1 ? "column" : "vector";
            w.Line($"// {formula}: {Inv(rows)} rows x {Inv(vectors)} {unit}s" + (tail > 0 ? $", the last {Inv(tail)} lanes" : "") +
                (tile.Op == TileOp.GemmTransposed ? $", over height x width in tiles of {Inv(rows)} x {Inv(columns)}." : $", over width in blocks of {Inv(columns)}") +
                (narrows ? $", the {unit}s left after them by the {Inv(rows)} x {Inv(width)} tile." : tile.Op == TileOp.GemmTransposed ? "" : "."));
            using (w.Open($"private static unsafe void {name}({parameters})"))
            {
                if (tail > 0)
                {
                    w.Line($"{v.Type} tail = {v.TailMask(Inv(tail))};");
                }
                bool transposed = tile.Op == TileOp.GemmTransposed;
                bool product = v.Isa.ByLane && !tile.Pass && tile.Op != TileOp.Additive;
                bool byLane = product && (!transposed || rows % width == 0);
                // Where the row passes are taken, the rest of the kernel runs by lane only.
                bool passes = product && EmitPasses(w, tile, v, vectors, tail > 0, use);
                if (byLane)
                {
                    w.Line($"// By lane: {Inv(IsaProfile.ByLaneRegisters(rows, vectors, tail > 0))} vector registers live (accumulators, an A vector per {(transposed ? "four rows" : "row")}, B's vectors).");
                }
                SourceWriter.Block? rowBlocks = transposed ? w.Open($"for (int i0 = 0; i0 < height; i0 += {Inv(rows)})") : null;
                if (narrows)
                {
                    w.Line($"int tiled = width - width % {Inv(columns)};");
                }
                using (w.Open($"for (int j0 = 0; j0 < {(narrows ? "tiled" : "width")}; j0 += {Inv(columns)})"))
                {
                    w.Line(transposed
                        ? "float* ta = &a[i0], tb = &b[j0], tc = &c[i0 * ldc + j0];"
                        : tile.Op == TileOp.Gemm ? "float* tb = &b[j0], tc = &c[j0], ti = &init[j0];" : "float* tb = &b[j0], tc = &c[j0];");
                    EmitInit(w, tile, v, vectors, Load, Row);
                    string depth = tile.Op is TileOp.Gemm or TileOp.Additive ? Inv(tile.Depth) : "depth";
                    if (byLane)
                    {
                        EmitByLane(w, tile, v, vectors, Load, depth, passes);
                    }
                    else
                    {
                        using (w.Open($"for (int t = 0; t < {depth}; t++)"))
                        {
                            w.Line(transposed ? "float* at = &ta[t * lda], bt = &tb[t * ldb];" : "float* at = &a[t], bt = &tb[t * ldb];");
                            w.Line(LoadB("bt", vectors, width, Load));
                            if (tile.Op == TileOp.Additive)
                            {
                                w.Line($"{v.Type} vt = {v.Broadcast("va[t]")};");
                            }
                            for (int r = 0; r < rows; r++)
                            {
                                w.Line(BroadcastRow(tile, v, r, transposed ? $"at[{Inv(r)}]" : $"at[{Inv(r * tile.ARowStride)}]", vectors));
                            }
                        }
                    }
                    for (int r = 0; r < rows; r++)
                    {
                        var stores = new List<string>();
                        for (int c = 0; c < vectors; c++)
                        {
                            stores.Add(Store($"c{r}_{c}", Row(r, c), c) + ";");
                        }
                        w.Line(string.Join(" ", stores));
                    }
                }
                rowBlocks?.Dispose();
                if (narrows)
                {
                    using (w.Open("if (tiled < width)"))
                    {
                        string last = use(tile with { Columns = width, Narrows = false });
                        w.Line($"{last}(a, &b[tiled], ldb, {(tile.Op == TileOp.Gemm ? "&init[tiled]" : "va")}, &c[tiled], ldc, width - tiled);");
                    }
                }
            }
            w.Line();
        }

        /// <summary>
        /// Without a by-lane multiply-add (<see cref="VectorSyntax.HasMultiplyAddByLane"/> false: x64's SSE), a tile whose
        /// broadcast loop would need more than the profile's <see cref="IsaProfile.PassRegisters"/> is computed by
        /// broadcast-only tiles of as many rows as fit, one call per group of rows (the transposed tile: one call of a
        /// tile whose rows divide this one's, over the same height), and the kernel returns.
        /// </summary>
        private static bool EmitPasses(SourceWriter w, TileProduct tile, VectorSyntax v, int vectors, bool tail, System.Func<TileProduct, string> use)
        {
            int rows = tile.Rows;
            int pass = v.Isa.RowsPerPass(rows, vectors, tail);
            if (pass >= rows)
            {
                return false;
            }
            bool transposed = tile.Op == TileOp.GemmTransposed;
            while (transposed && rows % pass != 0)
            {
                pass--;
            }
            using (w.Open($"if (!{v.HasMultiplyAddByLane})"))
            {
                w.Line($"// By broadcast in passes of {Inv(pass)} rows: {Inv(pass * vectors)} accumulators, {Inv(vectors)} B vectors, the broadcast and the product{(tail ? ", the tail mask" : "")} in {Inv(v.Isa.PassRegisters)} registers.");
                if (transposed)
                {
                    w.Line($"{use(tile with { Rows = pass, Pass = true })}(a, lda, depth, b, ldb, c, ldc, height, width);");
                }
                for (int first = 0; !transposed && first < rows; first += pass)
                {
                    string name = use(tile with { Rows = System.Math.Min(pass, rows - first), Pass = true });
                    string a = PointerAt("a", Inv(first * tile.ARowStride));
                    string c = first == 0 ? "c" : PointerAt("c", $"{Inv(first)} * ldc");
                    w.Line(tile.Op == TileOp.Gemm
                        ? $"{name}({a}, b, ldb, init, {c}, ldc, width);"
                        : $"{name}({a}, depth, b, ldb, {PointerAt("alpha", Inv(first))}, {c}, ldc, width);");
                }
                w.Line("return;");
            }
            return true;
        }

        /// <summary>
        /// The reduction of a by-lane tile. Row-major A: where the by-lane multiply-add is one instruction, a loop of four
        /// steps per iteration (A[r, t..t+3] loaded as one vector per row; B's four rows one after the other, each
        /// multiplied by lane 0 to 3), then the broadcast loop for the steps left (all of them elsewhere); both count on
        /// A's pointer and step B's by its row stride in bytes, so a step is one add. Transposed A: A[t, r..r+3] is one
        /// vector, so every step multiplies by lane without unrolling. With <paramref name="passes"/> the machines without
        /// the by-lane instruction never get here, so only the by-lane loops (and the steps left) are written.
        /// </summary>
        private static void EmitByLane(SourceWriter w, TileProduct tile, VectorSyntax v, int vectors,
            System.Func<string, int, string> load, string depth, bool passes)
        {
            int rows = tile.Rows, width = v.Isa.Width;
            string ALoads(string pointer, int count, int stride)
            {
                var loads = new List<string>();
                for (int g = 0; g < count; g++)
                {
                    loads.Add($"a{g} = {v.Load(PointerAt(pointer, Inv(g * stride)))}");
                }
                return $"{v.Type} {string.Join(", ", loads)};";
            }

            if (tile.Op == TileOp.GemmTransposed)
            {
                using (w.Open("for (int t = 0; t < depth; t++)"))
                {
                    w.Line("float* at = &ta[t * lda], bt = &tb[t * ldb];");
                    w.Line(LoadB("bt", vectors, width, load));
                    SourceWriter.Block? byLane = passes ? null : w.Open($"if ({v.HasMultiplyAddByLane})");
                    w.Line(ALoads("at", rows / width, width));
                    for (int r = 0; r < rows; r++)
                    {
                        w.Line(v.FmaRowByLane($"a{r / width}", r % width, r, vectors));
                    }
                    if (byLane is { } open)
                    {
                        open.Dispose();
                        using (w.Open("else"))
                        {
                            for (int r = 0; r < rows; r++)
                            {
                                w.Line(BroadcastRow(tile, v, r, $"at[{Inv(r)}]", vectors));
                            }
                        }
                    }
                }
                return;
            }
            bool constant = tile.Op == TileOp.Gemm;
            w.Line("float* pa = a, pb = tb;");
            w.Line("nint step = (nint)ldb * sizeof(float);");
            if (!constant || tile.Depth >= 4)
            {
                SourceWriter.Block? byLane = passes ? null : w.Open($"if ({v.HasMultiplyAddByLane})");
                using (w.Open($"for (float* whole = &a[{(constant ? Inv(tile.Depth / 4 * 4) : "depth - 3")}]; pa < whole; pa += 4)"))
                {
                    w.Line(ALoads("pa", rows, tile.ARowStride));
                    for (int lane = 0; lane < 4; lane++)
                    {
                        w.Line(LoadB("pb", vectors, width, load));
                        for (int r = 0; r < rows; r++)
                        {
                            w.Line(v.FmaRowByLane($"a{r}", lane, r, vectors));
                        }
                        w.Line("pb = (float*)((byte*)pb + step);");
                    }
                }
                byLane?.Dispose();
            }
            if (passes && constant && tile.Depth % 4 == 0)
            {
                return; // no steps left
            }
            using (w.Open($"for (float* end = &a[{depth}]; pa < end; pa++, pb = (float*)((byte*)pb + step))"))
            {
                w.Line(LoadB("pb", vectors, width, load));
                for (int r = 0; r < rows; r++)
                {
                    w.Line(BroadcastRow(tile, v, r, $"pa[{Inv(r * tile.ARowStride)}]", vectors));
                }
            }
        }

        /// <summary>One reduction step's row of B at <paramref name="pointer"/> into <c>b0</c>.. (the last vector through the tail mask).</summary>
        private static string LoadB(string pointer, int vectors, int width, System.Func<string, int, string> load)
        {
            var loads = new List<string>();
            for (int c = 0; c < vectors; c++)
            {
                loads.Add($"b{c} = {load(PointerAt(pointer, Inv(c * width)), c)};");
            }
            return string.Join(" ", loads);
        }

        /// <summary>
        /// One tile row's reduction step by broadcast: <c>a{r}</c> = the A element, then <c>c{r}_{c} += a{r} · b{c}</c>
        /// (on the additive tile <c>+= vt · tanh(a{r} + b{c})</c>).
        /// </summary>
        private static string BroadcastRow(TileProduct tile, VectorSyntax v, int r, string element, int vectors)
        {
            var terms = new List<string> { $"{v.Type} a{r} = {v.Broadcast(element)};" };
            for (int c = 0; c < vectors; c++)
            {
                terms.Add(tile.Op == TileOp.Additive
                    ? $"c{r}_{c} = {v.Fma("vt", v.Tanh($"a{r} + b{c}"), $"c{r}_{c}")};"
                    : $"c{r}_{c} = {v.Fma($"a{r}", $"b{c}", $"c{r}_{c}")};");
            }
            return string.Join(" ", terms);
        }

        /// <summary>The accumulators' first values (and the B registers, declared once).</summary>
        private static void EmitInit(SourceWriter w, TileProduct tile, VectorSyntax v, int vectors,
            System.Func<string, int, string> load, System.Func<int, int, string> row)
        {
            var bs = new List<string>();
            for (int c = 0; c < vectors; c++)
            {
                bs.Add(tile.Op == TileOp.Gemm ? $"b{c} = {load(PointerAt("ti", Inv(c * v.Isa.Width)), c)}" : $"b{c}");
            }
            w.Line($"{v.Type} {string.Join(", ", bs)};");
            if (tile.Op == TileOp.Gemm)
            {
                var all = new List<string>();
                for (int r = 0; r < tile.Rows; r++)
                {
                    for (int c = 0; c < vectors; c++)
                    {
                        all.Add($"c{r}_{c} = b{c}");
                    }
                }
                w.Line($"{v.Type} {string.Join(", ", all)};");
                return;
            }
            for (int r = 0; r < tile.Rows; r++)
            {
                if (tile.Op == TileOp.GemmScaled)
                {
                    w.Line($"{v.Type} s{r} = {v.Broadcast($"alpha[{Inv(r)}]")};");
                }
                var parts = new List<string>();
                for (int c = 0; c < vectors; c++)
                {
                    parts.Add($"c{r}_{c} = " + tile.Op switch
                    {
                        TileOp.GemmScaled => $"{load(row(r, c), c)} * s{r}",
                        TileOp.GemmTransposed => load(row(r, c), c),
                        _ => v.Zero,
                    });
                }
                w.Line($"{v.Type} {string.Join(", ", parts)};");
            }
        }
    }
}
