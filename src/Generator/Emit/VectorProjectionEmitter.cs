using System.Collections.Generic;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit
{
    /// <summary>
    /// Emits the projection GEMMs of one vector path: <c>Y[M, N] = X[M, K] · Wᵀ + b</c> over weights packed in
    /// panels of NR columns (see <c>KernelSupport.PackPanels</c>), as an outer loop over panels and row tiles
    /// calling register-tile micro-kernels <c>{shape}_tile{rows}x{columns}__{isa}</c>. M, N and K are constants, so
    /// the row and column remainders are known here and get their own micro-kernels.
    /// </summary>
    internal static class VectorProjectionEmitter
    {
        public static void Emit(SourceWriter w, LinearShape shape, IsaProfile isa)
        {
            int nr = isa.PanelWidth, mr = isa.GemmRows;
            int panels = (shape.N + nr - 1) / nr;
            int lastColumns = shape.N - (panels - 1) * nr;
            int fullRowTiles = shape.M / mr, rowRemainder = shape.M % mr;
            int panelStride = (shape.K + 1) * nr;
            string name = $"{shape.KernelName}__{isa.Suffix}";

            w.Line($"// {name}: Y[{Inv(shape.M)}, {Inv(shape.N)}] = X[{Inv(shape.M)}, {Inv(shape.K)}] · Wᵀ + b on {Inv(panels)} packed panels of {Inv(nr)} columns;");
            w.Line($"// register tiles of {Inv(mr)} rows ({Inv(fullRowTiles)} of them{(rowRemainder > 0 ? ", then one of " + Inv(rowRemainder) : "")}).");
            using (w.Open($"private static unsafe void {name}(float* x, float* packed, float* y)"))
            {
                void Row(int columns, string panel, string column)
                {
                    if (fullRowTiles > 0)
                    {
                        using (w.Open($"for (int m = 0; m < {Inv(fullRowTiles * mr)}; m += {Inv(mr)})"))
                        {
                            w.Line($"{TileName(shape, isa, mr, columns)}(x + m * {Inv(shape.K)}, {panel}, y + m * {Inv(shape.N)} + {column});");
                        }
                    }
                    if (rowRemainder > 0)
                    {
                        w.Line($"{TileName(shape, isa, rowRemainder, columns)}(x + {Inv(fullRowTiles * mr * shape.K)}, {panel}, y + {Inv(fullRowTiles * mr * shape.N)} + {column});");
                    }
                }

                int fullPanels = lastColumns == nr ? panels : panels - 1;
                if (fullPanels > 0)
                {
                    using (w.Open($"for (int p = 0; p < {Inv(fullPanels)}; p++)"))
                    {
                        w.Line($"float* panel = packed + p * {Inv(panelStride)};");
                        Row(nr, "panel", $"p * {Inv(nr)}");
                    }
                }
                if (lastColumns != nr)
                {
                    w.Line($"// Last panel: {Inv(lastColumns)} of {Inv(nr)} columns are real.");
                    Row(lastColumns, $"packed + {Inv(fullPanels * panelStride)}", Inv(fullPanels * nr));
                }
            }
            w.Line();

            var tiles = new List<(int Rows, int Columns)>();
            foreach (int rows in new[] { fullRowTiles > 0 ? mr : 0, rowRemainder })
            {
                if (rows == 0)
                {
                    continue;
                }
                if (lastColumns == nr || panels > 1)
                {
                    tiles.Add((rows, nr));
                }
                if (lastColumns != nr)
                {
                    tiles.Add((rows, lastColumns));
                }
            }
            foreach ((int rows, int columns) in tiles)
            {
                EmitTile(w, shape, isa, rows, columns);
            }
        }

        private static string TileName(LinearShape shape, IsaProfile isa, int rows, int columns)
            => $"{shape.KernelName}_tile{Inv(rows)}x{Inv(columns)}__{isa.Suffix}";

        /// <summary>One register tile: rows x NR accumulators, a k loop of broadcast-FMAs, then the store.</summary>
        private static void EmitTile(SourceWriter w, LinearShape shape, IsaProfile isa, int rows, int columns)
        {
            var v = new VectorSyntax(isa);
            int nv = isa.GemmVectors, width = isa.Width, nr = isa.PanelWidth, k = shape.K;
            w.Line($"// Y[0..{Inv(rows - 1)}, 0..{Inv(columns - 1)}] = X[0..{Inv(rows - 1)}, :] · panel + bias: {Inv(rows * nv)} accumulators.");
            w.Line("[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]");
            using (w.Open($"private static unsafe void {TileName(shape, isa, rows, columns)}(float* x, float* panel, float* y)"))
            {
                w.Line($"// Accumulators start at the bias row, stored after the {Inv(k)} weight rows of the panel.");
                for (int c = 0; c < nv; c++)
                {
                    w.Line($"{v.Type} b{c} = {v.Load($"panel + {Inv(k * nr + c * width)}")};");
                }
                for (int r = 0; r < rows; r++)
                {
                    var parts = new List<string>();
                    for (int c = 0; c < nv; c++)
                    {
                        parts.Add($"c{r}_{c} = b{c}");
                    }
                    w.Line($"{v.Type} {string.Join(", ", parts)};");
                }
                using (w.Open($"for (int k = 0; k < {Inv(k)}; k++)"))
                {
                    w.Line($"float* wk = panel + k * {Inv(nr)};");
                    for (int c = 0; c < nv; c++)
                    {
                        w.Line($"b{c} = {v.Load($"wk + {Inv(c * width)}")};");
                    }
                    for (int r = 0; r < rows; r++)
                    {
                        w.Line($"{v.Type} a{r} = {v.Broadcast($"x[{Inv(r * k)} + k]")};");
                        for (int c = 0; c < nv; c++)
                        {
                            w.Line($"c{r}_{c} = {v.Fma($"a{r}", $"b{c}", $"c{r}_{c}")};");
                        }
                    }
                }
                int fullVectors = columns / width, tail = columns % width;
                bool needTemp = tail > 0;
                if (needTemp)
                {
                    w.Line($"float* tail = stackalloc float[{Inv(width)}];");
                }
                for (int r = 0; r < rows; r++)
                {
                    for (int c = 0; c < fullVectors; c++)
                    {
                        w.Line($"{v.Store($"c{r}_{c}", $"y + {Inv(r * shape.N + c * width)}")};");
                    }
                    if (tail > 0)
                    {
                        w.Line($"{v.Store($"c{r}_{fullVectors}", "tail")};");
                        w.Line($"for (int t = 0; t < {Inv(tail)}; t++) y[{Inv(r * shape.N + fullVectors * width)} + t] = tail[t];");
                    }
                }
            }
            w.Line();
        }
    }

    /// <summary>The spelling of vector operations on one path.</summary>
    internal sealed class VectorSyntax
    {
        private readonly IsaProfile _isa;

        public VectorSyntax(IsaProfile isa) => _isa = isa;

        /// <summary>The vector type, through the file's alias.</summary>
        public string Type => "AgVecF";

        /// <summary>The static vector class, through the file's alias.</summary>
        public string Ops => "AgVec";

        public string Load(string pointer) => $"AgVec.Load({pointer})";

        public string Store(string value, string pointer) => $"AgVec.Store({value}, {pointer})";

        public string Broadcast(string scalar) => $"AgVec.Create({scalar})";

        /// <summary><c>a * b + c</c>, fused where the path guarantees FMA.</summary>
        public string Fma(string a, string b, string c)
            => _isa.FusedMultiplyAdd ? $"AgVec.FusedMultiplyAdd({a}, {b}, {c})" : $"AgVec.MultiplyAddEstimate({a}, {b}, {c})";

        /// <summary>e^x through the path's inlined <c>Exp__{isa}</c> (see <see cref="VectorMathEmitter"/>).</summary>
        public string Exp(string x) => $"Exp__{_isa.Suffix}({x})";

        /// <summary>The alias lines every vector file starts with (prefixed so they cannot meet a user type of the same name).</summary>
        public string[] Aliases => new[]
        {
            $"using AgVec = {_isa.VectorClass};",
            $"using AgVecF = {_isa.VectorClass}<float>;",
        };
    }
}
