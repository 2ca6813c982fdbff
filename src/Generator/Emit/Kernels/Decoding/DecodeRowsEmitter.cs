using AttnGen.Generator.Emit.Kernels.Template;
using AttnGen.Generator.Emit.Kernels.Vector;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Decoding
{
    /// <summary>
    /// Emits the projections a decoding step needs for a layer declared with <c>KvCache = true</c>, with the row
    /// count known only at run time (1 .. SeqLen new tokens): <c>ProjectRows__{isa}</c> writes each row's
    /// <c>[q | k | v]</c> (row stride QueryWidth + 2·KvWidth) and <c>OutputRows__{isa}</c> applies the output
    /// projection to context rows. The vector paths reuse the layer's projection register tiles: whole tiles of MR
    /// rows, then the rows left through the smaller instance of the same tile (one row is a 1 x NR tile, a
    /// matrix-vector product that streams each weight panel once).
    /// </summary>
    internal static class DecodeRowsEmitter
    {
        public static void EmitVector(SourceWriter w, KernelPlan plan, IsaProfile isa, KernelSet kernels)
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
            foreach (LinearShape shape in new[] { q, kv, output })
            {
                if (emitted.Add(RowsName(shape)))
                {
                    EmitVectorLinear(w, shape, kernels);
                }
            }
        }

        public static void EmitScalar(SourceWriter w, KernelPlan plan)
        {
            LinearShape q = plan.QueryProjection!, kv = plan.KvProjection!, output = plan.OutputProjection!;
            bool bias = plan.Spec.Bias;
            string b(string offset) => bias ? $"parameters + InProjBiasOffset{offset}, " : "";
            EmitEntryPoints(w, "scalar", "float* parameters",
                $"{RowsName(q)}__scalar(x, rows, parameters + InProjWeightOffset, {b("")}qkv, QkvWidth);",
                $"{RowsName(kv)}__scalar(x, rows, parameters + InProjWeightOffset + QueryWidth * ModelDim, {b(" + QueryWidth")}qkv + QueryWidth, QkvWidth);",
                $"{RowsName(kv)}__scalar(x, rows, parameters + InProjWeightOffset + (QueryWidth + KvWidth) * ModelDim, {b(" + QueryWidth + KvWidth")}qkv + QueryWidth + KvWidth, QkvWidth);",
                $"{RowsName(output)}__scalar(context, rows, parameters + OutProjWeightOffset, {(bias ? "parameters + OutProjBiasOffset, " : "")}output, ModelDim);");
            var emitted = new System.Collections.Generic.HashSet<string>();
            foreach (LinearShape shape in new[] { q, kv, output })
            {
                if (emitted.Add(RowsName(shape)))
                {
                    EmitScalarLinear(w, shape);
                }
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

        private static void EmitVectorLinear(SourceWriter w, LinearShape shape, KernelSet kernels)
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
                        EmitColumnBlock(w, kernels, "j", nr, mr, k, nr);
                    }
                }
                if (lastColumns > 0)
                {
                    EmitColumnBlock(w, kernels, Inv(fullBlocks * nr), lastColumns, mr, k, nr);
                }
            }
            w.Line();
        }

        // One block of columns: the whole row tiles, then a switch over the rows left (1 .. MR - 1).
        private static void EmitColumnBlock(SourceWriter w, KernelSet kernels, string column, int columns, int mr, int k, int nr)
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
            using (w.Open("switch (rows - whole)"))
            {
                for (int rows = 1; rows < mr; rows++)
                {
                    w.Line($"case {Inv(rows)}: {Call("whole", rows)} break;");
                }
            }
        }

        private static void EmitScalarLinear(SourceWriter w, LinearShape shape)
        {
            string n = Inv(shape.N), k = Inv(shape.K);
            string name = $"{RowsName(shape)}__scalar";
            w.Line($"// {name}: Y[rows, {n}] = X[rows, {k}] · W[{n}, {k}]ᵀ{(shape.Bias ? " + b" : "")} (Y's row stride ldy)");
            using (w.Open($"private static unsafe void {name}(float* x, int rows, float* w, {(shape.Bias ? "float* b, " : "")}float* y, int ldy)"))
            {
                Scalar.ScalarProjectionEmitter.EmitRowLoop(w, shape, "rows", "ldy");
            }
            w.Line();
        }
    }
}
