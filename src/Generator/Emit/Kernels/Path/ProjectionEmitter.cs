using AttnGen.Generator.Emit.Kernels.Template;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Path
{
    /// <summary>
    /// Emits a projection GEMM of one path (the scalar one at width 1 too), <c>Y[M, N] = X[M, K] · Wᵀ + b</c> over weights packed in panels of
    /// NR columns with the bias row after them (see <c>KernelSupport.PackPanels</c>): loops over panels and row tiles
    /// calling the Gemm register tile, which starts its accumulators at the panel's bias row. The workers of one
    /// sequence share the panels out (<c>split</c>); each output element is computed the same way whatever the split.
    /// </summary>
    internal static class ProjectionEmitter
    {
        public static void Emit(SourceWriter w, LinearShape shape, KernelSet kernels)
        {
            IsaProfile isa = kernels.Syntax.Isa;
            int nr = isa.PanelWidth, mr = isa.GemmRows, k = shape.K, n = shape.N;
            string name = $"{shape.KernelName}__{isa.Suffix}";
            w.Line($"// {name}: Y[{Inv(shape.M)}, {Inv(n)}] = X[{Inv(shape.M)}, {Inv(k)}] · Wᵀ + b on {Inv((n + nr - 1) / nr)} packed panels of {Inv(nr)} columns, register tiles of {Inv(mr)} rows.");
            using (w.Open($"private static unsafe void {name}(float* x, float* packed, float* y, global::AttnGen.SequenceSplit split)"))
            {
                TileLoops.Emit(w, shape.M, n, mr, nr, (row, column, rows, columns) =>
                {
                    // Column j starts panel j / NR, (K + 1)·NR floats each: j·(K + 1).
                    string panel = TileLoops.Offset("packed", column, k + 1);
                    string kernel = kernels.Use(TileProduct.Gemm(rows, columns, k, k));
                    return $"{kernel}({TileLoops.Offset("x", row, k)}, {panel}, {Inv(nr)}, {PointerAt(panel, Inv(k * nr))}, {TileLoops.Offset(TileLoops.Offset("y", row, n), column, 1)}, {Inv(n)}, {Inv(columns)});";
                }, split: "split");
            }
            w.Line();
        }
    }
}
