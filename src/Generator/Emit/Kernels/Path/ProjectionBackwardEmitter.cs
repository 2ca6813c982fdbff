using AttnGen.Generator.Emit.Kernels.Template;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Path
{
    /// <summary>
    /// Emits the backward of one projection <c>Y[M, N] = X[M, K] · W[N, K]ᵀ + b</c> on one path,
    /// <c>LinearBackward_{M}x{N}x{K}[_bias]__{isa}</c>: <c>dX = dY · W</c> (overwritten) through the Gemm tile (GemmRows
    /// rows by the profile's BackwardVectors, starting at zeros), <c>dW += dYᵀ · X</c> through the transposed tile, and
    /// <c>db += Σ_rows dY</c>. Neither W nor X is packed: the tiles read their rows in place. The workers of a shared
    /// sequence (<c>split</c>) each take a contiguous range of the column blocks of dX and of dW and of the vectors of
    /// db: every element is computed by one worker, as on one. The dW tiles run row tile by row tile
    /// (<see cref="TileLoops.EmitRowsOuter"/>): each tile loads and stores its dW rows, and in the larger layers dW does
    /// not stay in L2 beside the sequence's activations, so walking it down its columns (rows K floats apart) made every
    /// tile wait for lines no prefetcher had fetched, while along its rows the next tile's lines follow the last one's.
    /// Every row tile then reads all of X's rows: over a long sequence they run in chunks of <see cref="DepthChunk"/>
    /// rows, each chunk through every tile before the next.
    /// </summary>
    internal static class ProjectionBackwardEmitter
    {
        /// <summary>
        /// The most rows of dY and X one pass of the dW tiles reduces over: 128 rows of both, at ModelDim 512, are half a
        /// 1 MiB L2, so a pass's rows are read from L2 by every row tile of dW, not from L3.
        /// </summary>
        private const int DepthChunk = 128;

        public static void Emit(SourceWriter w, LinearShape shape, KernelSet kernels)
        {
            IsaProfile isa = kernels.Syntax.Isa;
            var v = kernels.Syntax;
            int nr = isa.BackwardVectors * isa.Width, mr = isa.GemmRows, m = shape.M, n = shape.N, k = shape.K;
            string name = $"{shape.BackwardKernelName}__{isa.Suffix}";
            w.Line($"// {name}: backward of Y[{Inv(m)}, {Inv(n)}] = X[{Inv(m)}, {Inv(k)}] · W[{Inv(n)}, {Inv(k)}]ᵀ{(shape.Bias ? " + b" : "")}.");
            using (w.Open($"private static unsafe void {name}(float* dy, float* x, float* w, float* dw{(shape.Bias ? ", float* db" : "")}, float* dx, global::AttnGen.SequenceSplit split)"))
            {
                w.Line($"// dX[{Inv(m)}, {Inv(k)}] = dY · W: tile rows are rows of dY, the reduction runs over its {Inv(n)} columns.");
                TileLoops.Emit(w, m, k, mr, nr, (row, column, rows, columns) =>
                    $"{kernels.Use(TileProduct.Gemm(rows, columns, n, n))}({TileLoops.Offset("dy", row, n)}, {TileLoops.Offset("w", column, 1)}, {Inv(k)}, AgSupport.ZeroRow, {TileLoops.Offset(TileLoops.Offset("dx", row, k), column, 1)}, {Inv(k)}, {Inv(columns)});", "split");
                w.Line($"// dW[{Inv(n)}, {Inv(k)}] += dYᵀ · X: tile rows are columns of dY, the reduction runs over its {Inv(m)} rows;");
                w.Line("// row tiles outside, so each tile's dW lines (loaded and stored) follow the last tile's along their rows.");
                // One structure for every depth (the generated size must not depend on the sequence length): a single
                // chunk when the rows fit in one.
                w.Line($"// in chunks of {Inv(DepthChunk)} rows of dY and X (a tile stores and reloads its dW between them: the same sums)");
                using (w.Open($"for (int t0 = 0; t0 < {Inv(m)}; t0 += {Inv(DepthChunk)})"))
                {
                    // The chunk's rows: a constant unless the last chunk is shorter than the others.
                    bool shortLast = m > DepthChunk && m % DepthChunk != 0;
                    string depth = shortLast ? "depth" : Inv(System.Math.Min(m, DepthChunk));
                    if (shortLast)
                    {
                        w.Line($"int depth = global::System.Math.Min({Inv(DepthChunk)}, {Inv(m)} - t0);");
                    }
                    w.Line($"float* dyc = &dy[t0 * {Inv(n)}], xc = &x[t0 * {Inv(k)}];");
                    TileLoops.EmitRowsOuter(w, n, k, mr, nr, (row, column, rows, columns) =>
                        $"{kernels.Use(TileProduct.Transposed(rows, columns))}({TileLoops.Offset("dyc", row, 1)}, {Inv(n)}, {depth}, {TileLoops.Offset("xc", column, 1)}, {Inv(k)}, {TileLoops.Offset(TileLoops.Offset("dw", row, k), column, 1)}, {Inv(k)}, {Inv(rows)}, {Inv(columns)});", "split");
                }
                if (shape.Bias)
                {
                    int vectors = n / isa.Width, full = vectors * isa.Width;
                    w.Line($"// db[0..{Inv(n - 1)}] += Σ_m dY[m, :] (each worker its share of the vectors, the last one the columns after them)");
                    if (full > 0)
                    {
                        using (w.Open($"for (int j = split.Start({Inv(vectors)}) * {Inv(isa.Width)}, jEnd = split.End({Inv(vectors)}) * {Inv(isa.Width)}; j < jEnd; j += {Inv(isa.Width)})"))
                        {
                            w.Line($"{v.Type} s = {v.Load("db + j")};");
                            w.Line($"for (int i = 0; i < {Inv(m)}; i++) s += {v.Load($"dy + i * {Inv(n)} + j")};");
                            w.Line($"{v.Store("s", "db + j")};");
                        }
                    }
                    if (full < n)
                    {
                        w.Line($"if (split.IsLast) for (int j = {Inv(full)}; j < {Inv(n)}; j++) for (int i = 0; i < {Inv(m)}; i++) db[j] += dy[i * {Inv(n)} + j];");
                    }
                }
            }
            w.Line();
        }
    }
}
