using AttnGen.Generator.Emit.Kernels.Template;
using AttnGen.Generator.Emit.Kernels.Path;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Decoding
{
    /// <summary>
    /// Emits the projections a decoding step needs for a layer declared with <c>KvCache = true</c>, with the row
    /// count known only at run time (1 .. SeqLen new tokens): <c>ProjectRows__{isa}</c> writes each row's
    /// <c>[q | k | v]</c> (row stride QueryWidth + 2·KvWidth) and <c>OutputRows__{isa}</c> applies the output
    /// projection to context rows. Every path (the scalar one, at width 1, too) reuses the layer's projection register
    /// tiles on its packed weights: whole tiles of MR rows, then the rows left through the smaller instance of the same
    /// tile (one row is a 1 x NR tile, a matrix-vector product that streams each weight panel once).
    /// </summary>
    internal static class DecodeRowsEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan, IsaProfile isa, KernelSet kernels)
        {
            PackedOffsets o = PackedOffsets.For(plan, isa);
            string s = isa.Suffix;
            LinearShape q = plan.QueryProjection!, kv = plan.KvProjection!, output = plan.OutputProjection!;
            EmitEntryPoints(w, s, "float* packed",
                $"{RowsName(q)}__{s}(x, rows, packed + {Inv(o.Query)}, qkv, QkvWidth);",
                $"{RowsName(kv)}__{s}(x, rows, packed + {Inv(o.Key)}, qkv + QueryWidth, QkvWidth);",
                $"{RowsName(kv)}__{s}(x, rows, packed + {Inv(o.Value)}, qkv + QueryWidth + KvWidth, QkvWidth);",
                $"{RowsName(output)}__{s}(context, rows, packed + {Inv(o.Output)}, output, ModelDim);");
            var emitted = new System.Collections.Generic.HashSet<string>();
            var rowKernels = new System.Collections.Generic.SortedSet<(int Columns, int Depth)>();
            foreach (LinearShape shape in new[] { q, kv, output })
            {
                if (emitted.Add(RowsName(shape)))
                {
                    EmitLinear(w, shape, kernels, rowKernels);
                }
            }
            foreach ((int columns, int depth) in rowKernels)
            {
                EmitOneRow(w, kernels.Syntax, columns, depth);
            }
        }

        // LinearRows_{N}x{K}[_bias]: the projection's shape without its row count, which the decoding step passes.
        private static string RowsName(LinearShape shape) => $"LinearRows_{Inv(shape.N)}x{Inv(shape.K)}{(shape.Bias ? "_bias" : "")}";

        private static void EmitEntryPoints(SourceWriter w, string suffix, string weights, string query, string key, string value, string output)
        {
            w.Line($"// ProjectRows__{suffix}: qkv[r] = [x[r]·W_qᵀ + b_q | x[r]·W_kᵀ + b_k | x[r]·W_vᵀ + b_v] for the rows of a decoding step (row stride QkvWidth).");
            using (w.Open($"private static unsafe void ProjectRows__{suffix}(float* x, int rows, {weights}, float* qkv)"))
            {
                w.Line(query);
                w.Line(key);
                w.Line(value);
            }
            w.Line();
            w.Line($"// OutputRows__{suffix}: output[r] = context[r]·W_oᵀ + b_o for the rows of a decoding step.");
            using (w.Open($"private static unsafe void OutputRows__{suffix}(float* context, int rows, {weights}, float* output)"))
            {
                w.Line(output);
            }
            w.Line();
        }

        private static void EmitLinear(SourceWriter w, LinearShape shape, KernelSet kernels, System.Collections.Generic.ISet<(int, int)> rowKernels)
        {
            IsaProfile isa = kernels.Syntax.Isa;
            int nr = isa.PanelWidth, mr = isa.GemmRows, k = shape.K, n = shape.N;
            string name = $"{RowsName(shape)}__{isa.Suffix}";
            w.Line($"// {name}: Y[rows, {Inv(n)}] = X[rows, {Inv(k)}] · Wᵀ + b (Y's row stride ldy) on the packed panels: tiles of {Inv(mr)} rows, then one smaller tile.");
            using (w.Open($"private static unsafe void {name}(float* x, int rows, float* packed, float* y, int ldy)"))
            {
                w.Line($"int whole = rows / {Inv(mr)} * {Inv(mr)};");
                int fullBlocks = n / nr, lastColumns = n % nr;
                if (fullBlocks > 0)
                {
                    using (w.Open($"for (int j = 0; j < {Inv(fullBlocks * nr)}; j += {Inv(nr)})"))
                    {
                        EmitColumnBlock(w, kernels, rowKernels, "j", nr, mr, k, nr);
                    }
                }
                if (lastColumns > 0)
                {
                    EmitColumnBlock(w, kernels, rowKernels, Inv(fullBlocks * nr), lastColumns, mr, k, nr);
                }
            }
            w.Line();
        }

        // One block of columns: the whole row tiles, then a switch over the rows left (1 .. MR - 1); a single row
        // (a one-token step) takes the one-row kernel, whose independent partial sums keep the weight stream going.
        private static void EmitColumnBlock(SourceWriter w, KernelSet kernels, System.Collections.Generic.ISet<(int, int)> rowKernels, string column, int columns, int mr, int k, int nr)
        {
            // Column j starts panel j / NR, (K + 1)·NR floats each: j·(K + 1); its bias row follows the K weight rows.
            string panel = TileLoops.Offset("packed", column, k + 1);
            string Call(string row, int rows)
                => $"{kernels.Use(TileProduct.Gemm(rows, columns, k, k))}(x + {row} * {Inv(k)}, {panel}, {Inv(nr)}, {panel} + {Inv(k * nr)}, y + {row} * ldy{(column == "0" ? "" : " + " + column)}, ldy, {Inv(columns)});";
            using (w.Open($"for (int r = 0; r < whole; r += {Inv(mr)})"))
            {
                w.Line(Call("r", mr));
            }
            if (mr == 1)
            {
                return;
            }
            rowKernels.Add((columns, k));
            string oneRow = $"{OneRowName(columns, k, kernels.Syntax.Isa)}(x + whole * {Inv(k)}, {panel}, {panel} + {Inv(k * nr)}, y + whole * ldy{(column == "0" ? "" : " + " + column)});";
            using (w.Open("switch (rows - whole)"))
            {
                w.Line($"case 1: {oneRow} break;");
                for (int rows = 2; rows < mr; rows++)
                {
                    w.Line($"case {Inv(rows)}: {Call("whole", rows)} break;");
                }
            }
        }

        private static string OneRowName(int columns, int depth, IsaProfile isa) => $"gemv_{Inv(columns)}_k{Inv(depth)}__{isa.Suffix}";

        // y[0 .. columns-1] = init + x · B over depth for one row of x, B one packed panel (row stride NR): four partial
        // sums per vector (reduction index t mod 4), so consecutive multiply-adds never wait on each other, added at the end.
        private static void EmitOneRow(SourceWriter w, VectorSyntax v, int columns, int depth)
        {
            int width = v.Isa.Width, nr = v.Isa.PanelWidth, vectors = (columns + width - 1) / width, tail = columns % width;
            const int ways = 4;
            string Load(string pointer, int c) => c == vectors - 1 && tail > 0 ? v.LoadTail(pointer, "tail") : v.Load(pointer);
            string At(string pointer, int offset) => offset == 0 ? pointer : $"{pointer} + {Inv(offset)}";
            w.Line($"// y = init + x·B over {Inv(depth)} for one row: {Inv(vectors)} vectors" + (tail > 0 ? $", the last {Inv(tail)} lanes" : "") +
                $", {Inv(ways)} partial sums each (t mod {Inv(ways)}).");
            using (w.Open($"private static unsafe void {OneRowName(columns, depth, v.Isa)}(float* x, float* b, float* init, float* y)"))
            {
                if (tail > 0)
                {
                    w.Line($"{v.Type} tail = {v.TailMask(Inv(tail))};");
                }
                var sums = new System.Collections.Generic.List<string>();
                for (int p = 0; p < ways; p++)
                {
                    for (int c = 0; c < vectors; c++)
                    {
                        sums.Add($"s{p}_{c} = {v.Zero}");
                    }
                }
                w.Line($"{v.Type} {string.Join(", ", sums)};");
                int whole = depth / ways * ways;
                void Step(string t, int ways_)
                {
                    w.Line($"float* bt = b + {t} * {Inv(nr)};");
                    for (int p = 0; p < ways_; p++)
                    {
                        var terms = new System.Collections.Generic.List<string> { $"{v.Type} x{p} = {v.Broadcast(p == 0 ? $"x[{t}]" : $"x[{t} + {Inv(p)}]")};" };
                        for (int c = 0; c < vectors; c++)
                        {
                            terms.Add($"s{p}_{c} = {v.Fma($"x{p}", Load(At("bt", p * nr + c * width), c), $"s{p}_{c}")};");
                        }
                        w.Line(string.Join(" ", terms));
                    }
                }
                if (whole > 0)
                {
                    using (w.Open($"for (int t = 0; t < {Inv(whole)}; t += {Inv(ways)})"))
                    {
                        Step("t", ways);
                    }
                }
                if (depth > whole)
                {
                    using (w.Open(""))
                    {
                        Step(Inv(whole), depth - whole);
                    }
                }
                for (int c = 0; c < vectors; c++)
                {
                    string total = $"{Load(At("init", c * width), c)} + ((s0_{c} + s1_{c}) + (s2_{c} + s3_{c}))";
                    w.Line((c == vectors - 1 && tail > 0 ? v.StoreTail(total, At("y", c * width), "tail") : v.Store(total, At("y", c * width))) + ";");
                }
            }
            w.Line();
        }
    }
}
