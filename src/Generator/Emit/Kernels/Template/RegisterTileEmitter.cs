using System.Collections.Generic;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Template
{
    /// <summary>
    /// Renders one <see cref="TileProduct"/> for one vector profile: the accumulators of the tile in registers, a
    /// loop over the reduction that loads the vectors of one row of B and broadcasts one element of A per tile row,
    /// then the store; around it, a loop over the column blocks of <c>width</c> columns (and for the transposed tile
    /// the row blocks of <c>height</c> rows), so one call covers a whole key block or head. Only the tile is unrolled;
    /// every loop stays a loop.
    /// </summary>
    internal static class RegisterTileEmitter
    {
        public static void Emit(SourceWriter w, TileProduct tile, VectorSyntax v)
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
            w.Line($"// {formula}: {Inv(rows)} rows x {Inv(vectors)} {(width == 1 ? "columns" : "vectors")}" + (tail > 0 ? $", the last {Inv(tail)} lanes" : "") +
                (tile.Op == TileOp.GemmTransposed ? $", over height x width in tiles of {Inv(rows)} x {Inv(columns)}." : $", over width in blocks of {Inv(columns)}."));
            using (w.Open($"private static unsafe void {name}({parameters})"))
            {
                if (tail > 0)
                {
                    w.Line($"{v.Type} tail = {v.TailMask(Inv(tail))};");
                }
                bool transposed = tile.Op == TileOp.GemmTransposed;
                SourceWriter.Block? rowBlocks = transposed ? w.Open($"for (int i0 = 0; i0 < height; i0 += {Inv(rows)})") : null;
                using (w.Open($"for (int j0 = 0; j0 < width; j0 += {Inv(columns)})"))
                {
                    w.Line(transposed
                        ? "float* ta = &a[i0], tb = &b[j0], tc = &c[i0 * ldc + j0];"
                        : tile.Op == TileOp.Gemm ? "float* tb = &b[j0], tc = &c[j0], ti = &init[j0];" : "float* tb = &b[j0], tc = &c[j0];");
                    EmitInit(w, tile, v, vectors, Load, Row);
                    string depth = tile.Op is TileOp.Gemm or TileOp.Additive ? Inv(tile.Depth) : "depth";
                    using (w.Open($"for (int t = 0; t < {depth}; t++)"))
                    {
                        w.Line(transposed ? "float* at = &ta[t * lda], bt = &tb[t * ldb];" : "float* at = &a[t], bt = &tb[t * ldb];");
                        var loads = new List<string>();
                        for (int c = 0; c < vectors; c++)
                        {
                            loads.Add($"b{c} = {Load(At("bt", c), c)};");
                        }
                        w.Line(string.Join(" ", loads));
                        if (tile.Op == TileOp.Additive)
                        {
                            w.Line($"{v.Type} vt = {v.Broadcast("va[t]")};");
                        }
                        for (int r = 0; r < rows; r++)
                        {
                            string element = transposed ? $"at[{Inv(r)}]" : $"at[{Inv(r * tile.ARowStride)}]";
                            var terms = new List<string> { $"{v.Type} a{r} = {v.Broadcast(element)};" };
                            for (int c = 0; c < vectors; c++)
                            {
                                terms.Add(tile.Op == TileOp.Additive
                                    ? $"c{r}_{c} = {v.Fma("vt", v.Tanh($"a{r} + b{c}"), $"c{r}_{c}")};"
                                    : $"c{r}_{c} = {v.Fma($"a{r}", $"b{c}", $"c{r}_{c}")};");
                            }
                            w.Line(string.Join(" ", terms));
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
            }
            w.Line();
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
