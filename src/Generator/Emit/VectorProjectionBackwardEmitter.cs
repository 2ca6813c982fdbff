using System.Collections.Generic;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit
{
    /// <summary>
    /// Emits the backward of one projection <c>Y[M, N] = X[M, K] · W[N, K]ᵀ + b</c> on one vector path,
    /// <c>LinearBackward_{M}x{N}x{K}[_bias]__{isa}</c>: <c>dX = dY · W</c> (overwritten), <c>dW += dYᵀ · X</c> and
    /// <c>db += Σ_rows dY</c> (accumulated). Both products are register-tiled GEMMs from one template
    /// (<see cref="Gemm"/>): a tile of <c>rows x (GemmVectors · Width)</c> accumulators, a loop over the reduction
    /// that loads the vectors of one row of the right operand (W row-major for dX, X for dW: neither is packed)
    /// and broadcasts one dY value per tile row. Shapes are constants, so the row and column remainders get their
    /// own tiles; a column count that is not a whole number of vectors ends with one vector placed to end exactly
    /// at the last column, overlapping the one before it, so no load or store leaves the matrix.
    /// </summary>
    internal static class VectorProjectionBackwardEmitter
    {
        public static void Emit(SourceWriter w, LinearShape shape, IsaProfile isa)
        {
            string name = $"{shape.BackwardKernelName}__{isa.Suffix}";
            string m = Inv(shape.M), n = Inv(shape.N), k = Inv(shape.K);
            // dX[M, K] = Σ_n dY[M, n] · W[n, K]: tile rows are rows of dY, the reduction runs over its columns.
            var dx = new Gemm(shape.BackwardKernelName + "_dx", "dX = dY · W", "dX", rows: shape.M, columns: shape.K, depth: shape.N,
                aRowStride: shape.N, aDepthStride: 1, bStride: shape.K, accumulate: false);
            // dW[N, K] += Σ_m dY[m, N]ᵀ · X[m, K]: tile rows are columns of dY, the reduction runs over its rows.
            var dw = new Gemm(shape.BackwardKernelName + "_dw", "dW += dYᵀ · X", "dW", rows: shape.N, columns: shape.K, depth: shape.M,
                aRowStride: 1, aDepthStride: shape.N, bStride: shape.K, accumulate: true);

            w.Line($"// {name}: backward of Y[{m}, {n}] = X[{m}, {k}] · W[{n}, {k}]ᵀ{(shape.Bias ? " + b" : "")}:");
            w.Line($"// dX[{m}, {k}] = dY · W (overwritten); dW[{n}, {k}] += dYᵀ · X{(shape.Bias ? $"; db[{n}] += Σ_rows dY" : "")}.");
            using (w.Open($"private static unsafe void {name}(float* dy, float* x, float* w, float* dw{(shape.Bias ? ", float* db" : "")}, float* dx)"))
            {
                w.Line($"{dx.Name}__{isa.Suffix}(dy, w, dx);");
                w.Line($"{dw.Name}__{isa.Suffix}(dy, x, dw);");
                if (shape.Bias)
                {
                    EmitBiasSum(w, shape, isa);
                }
            }
            w.Line();
            dx.Emit(w, isa);
            dw.Emit(w, isa);
        }

        /// <summary>db[n] += Σ_m dY[m, n]: whole vectors of n, then the remaining columns one by one.</summary>
        private static void EmitBiasSum(SourceWriter w, LinearShape shape, IsaProfile isa)
        {
            var v = new VectorSyntax(isa);
            int width = isa.Width, full = shape.N / width * width;
            w.Line($"// db[0..{Inv(shape.N - 1)}] += Σ_m dY[m, :]");
            if (full > 0)
            {
                using (w.Open($"for (int j = 0; j < {Inv(full)}; j += {Inv(width)})"))
                {
                    w.Line($"{v.Type} s = {v.Load("db + j")};");
                    w.Line($"for (int m = 0; m < {Inv(shape.M)}; m++) s += {v.Load($"dy + m * {Inv(shape.N)} + j")};");
                    w.Line($"{v.Store("s", "db + j")};");
                }
            }
            if (full < shape.N)
            {
                using (w.Open($"for (int j = {Inv(full)}; j < {Inv(shape.N)}; j++)"))
                {
                    w.Line("float s = db[j];");
                    w.Line($"for (int m = 0; m < {Inv(shape.M)}; m++) s += dy[m * {Inv(shape.N)} + j];");
                    w.Line("db[j] = s;");
                }
            }
        }

        /// <summary>
        /// One constant-shaped product <c>C[rows, columns] (+)= Σ_t A(r, t) · B[t, columns]</c> with
        /// <c>A(r, t) = a[r · aRowStride + t · aDepthStride]</c> broadcast, row t of B at <c>b + t · bStride</c> loaded
        /// as vectors, and C rows <c>columns</c> apart. Emitted as a driver over column blocks and row tiles plus the
        /// register tiles <c>{name}_tile{rows}x{columns}__{isa}</c> it calls.
        /// </summary>
        private sealed class Gemm
        {
            private readonly string _formula, _result;
            private readonly int _rows, _columns, _depth, _aRowStride, _aDepthStride, _bStride;
            private readonly bool _accumulate;

            public Gemm(string name, string formula, string result, int rows, int columns, int depth, int aRowStride, int aDepthStride, int bStride, bool accumulate)
            {
                Name = name;
                _formula = formula;
                _result = result;
                _rows = rows;
                _columns = columns;
                _depth = depth;
                _aRowStride = aRowStride;
                _aDepthStride = aDepthStride;
                _bStride = bStride;
                _accumulate = accumulate;
            }

            public string Name { get; }

            public void Emit(SourceWriter w, IsaProfile isa)
            {
                string signature = $"private static unsafe void {Name}__{isa.Suffix}(float* a, float* b, float* c)";
                if (_columns < isa.Width)
                {
                    EmitNarrow(w, isa, signature);
                    return;
                }
                int nr = isa.PanelWidth, mr = isa.GemmRows;
                int fullBlocks = _columns / nr, lastColumns = _columns % nr;
                int fullTiles = _rows / mr, rowRemainder = _rows % mr;
                w.Line($"// {Name}__{isa.Suffix}: {_formula}, {_result}[{Inv(_rows)}, {Inv(_columns)}] over a reduction of {Inv(_depth)}, in column blocks of {Inv(nr)}");
                w.Line($"// ({Inv(fullBlocks)} whole{(lastColumns > 0 ? ", then one of " + Inv(lastColumns) : "")}) and register tiles of {Inv(mr)} rows ({Inv(fullTiles)} whole{(rowRemainder > 0 ? ", then one of " + Inv(rowRemainder) : "")}).");
                using (w.Open(signature))
                {
                    void Block(int columns, string column)
                    {
                        if (fullTiles > 0)
                        {
                            using (w.Open($"for (int r = 0; r < {Inv(fullTiles * mr)}; r += {Inv(mr)})"))
                            {
                                w.Line($"{TileName(isa, mr, columns)}(a + r * {Inv(_aRowStride)}, b + {column}, c + r * {Inv(_columns)} + {column});");
                            }
                        }
                        if (rowRemainder > 0)
                        {
                            int r0 = fullTiles * mr;
                            w.Line($"{TileName(isa, rowRemainder, columns)}(a + {Inv(r0 * _aRowStride)}, b + {column}, c + {Inv(r0 * _columns)} + {column});");
                        }
                    }

                    if (fullBlocks > 0)
                    {
                        using (w.Open($"for (int j = 0; j < {Inv(fullBlocks * nr)}; j += {Inv(nr)})"))
                        {
                            Block(nr, "j");
                        }
                    }
                    if (lastColumns > 0)
                    {
                        w.Line($"// Last column block: {Inv(lastColumns)} columns.");
                        Block(lastColumns, Inv(fullBlocks * nr));
                    }
                }
                w.Line();

                var tiles = new List<(int Rows, int Columns)>();
                foreach (int rows in new[] { fullTiles > 0 ? mr : 0, rowRemainder })
                {
                    foreach (int columns in new[] { fullBlocks > 0 ? nr : 0, lastColumns })
                    {
                        if (rows > 0 && columns > 0)
                        {
                            tiles.Add((rows, columns));
                        }
                    }
                }
                foreach ((int rows, int columns) in tiles)
                {
                    EmitTile(w, isa, rows, columns);
                }
            }

            private string TileName(IsaProfile isa, int rows, int columns) => $"{Name}_tile{Inv(rows)}x{Inv(columns)}__{isa.Suffix}";

            /// <summary>
            /// rows x columns accumulators over the whole reduction. Columns that are not a whole number of vectors
            /// end with a vector placed to end at the last column (the matrix has at least one vector of columns):
            /// an overwrite stores it whole (its overlapping lanes hold the same sums, computed in the same order),
            /// an accumulation starts it at zero and adds only its new lanes.
            /// </summary>
            private void EmitTile(SourceWriter w, IsaProfile isa, int rows, int columns)
            {
                var v = new VectorSyntax(isa);
                int width = isa.Width, fullVectors = columns / width, tail = columns % width;
                var offsets = new List<int>();
                for (int i = 0; i < fullVectors; i++)
                {
                    offsets.Add(i * width);
                }
                if (tail > 0)
                {
                    offsets.Add(columns - width);
                }
                int overlap = tail > 0 ? offsets.Count - 1 : -1;
                string op = _accumulate ? "+=" : "=";
                w.Line($"// {_result}[0..{Inv(rows - 1)}, 0..{Inv(columns - 1)}] {op} Σ_t A[0..{Inv(rows - 1)}, t] · B[t, 0..{Inv(columns - 1)}]: {Inv(rows * offsets.Count)} accumulators" +
                    (tail > 0 ? $"; the last vector starts at column {Inv(columns - width)}." : "."));
                w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]");
                using (w.Open($"private static unsafe void {TileName(isa, rows, columns)}(float* a, float* b, float* c)"))
                {
                    for (int r = 0; r < rows; r++)
                    {
                        var parts = new List<string>();
                        for (int i = 0; i < offsets.Count; i++)
                        {
                            bool load = _accumulate && i != overlap;
                            parts.Add($"c{r}_{i} = {(load ? v.Load($"c + {Inv(r * _columns + offsets[i])}") : $"{v.Type}.Zero")}");
                        }
                        w.Line($"{v.Type} {string.Join(", ", parts)};");
                    }
                    using (w.Open($"for (int t = 0; t < {Inv(_depth)}; t++)"))
                    {
                        w.Line($"float* at = a + t{(_aDepthStride == 1 ? "" : " * " + Inv(_aDepthStride))};");
                        w.Line($"float* bt = b + t * {Inv(_bStride)};");
                        for (int i = 0; i < offsets.Count; i++)
                        {
                            w.Line($"{v.Type} b{i} = {v.Load($"bt + {Inv(offsets[i])}")};");
                        }
                        for (int r = 0; r < rows; r++)
                        {
                            w.Line($"{v.Type} a{r} = {v.Broadcast($"at[{Inv(r * _aRowStride)}]")};");
                            for (int i = 0; i < offsets.Count; i++)
                            {
                                w.Line($"c{r}_{i} = {v.Fma($"a{r}", $"b{i}", $"c{r}_{i}")};");
                            }
                        }
                    }
                    if (overlap >= 0 && _accumulate)
                    {
                        w.Line($"float* tail = stackalloc float[{Inv(width)}];");
                    }
                    for (int r = 0; r < rows; r++)
                    {
                        for (int i = 0; i < offsets.Count; i++)
                        {
                            string target = $"c + {Inv(r * _columns + offsets[i])}";
                            if (i == overlap && _accumulate)
                            {
                                w.Line($"{v.Store($"c{r}_{i}", "tail")};");
                                w.Line($"for (int i = {Inv(width - tail)}; i < {Inv(width)}; i++) c[{Inv(r * _columns + offsets[i])} + i] += tail[i];");
                            }
                            else
                            {
                                w.Line($"{v.Store($"c{r}_{i}", target)};");
                            }
                        }
                    }
                }
                w.Line();
            }

            /// <summary>Fewer columns than one vector: plain loops (only tiny layers get here).</summary>
            private void EmitNarrow(SourceWriter w, IsaProfile isa, string signature)
            {
                w.Line($"// {Name}__{isa.Suffix}: {_formula}, {_result}[{Inv(_rows)}, {Inv(_columns)}]: narrower than one vector, so plain loops.");
                using (w.Open(signature))
                {
                    using (w.Open($"for (int r = 0; r < {Inv(_rows)}; r++)"))
                    {
                        using (w.Open($"for (int j = 0; j < {Inv(_columns)}; j++)"))
                        {
                            w.Line(_accumulate ? $"float s = c[r * {Inv(_columns)} + j];" : "float s = 0f;");
                            w.Line($"for (int t = 0; t < {Inv(_depth)}; t++) s += a[r * {Inv(_aRowStride)} + t * {Inv(_aDepthStride)}] * b[t * {Inv(_bStride)} + j];");
                            w.Line($"c[r * {Inv(_columns)} + j] = s;");
                        }
                    }
                }
                w.Line();
            }
        }
    }
}
