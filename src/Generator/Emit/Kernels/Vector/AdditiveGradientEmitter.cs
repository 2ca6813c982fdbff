using AttnGen.Generator.Emit.Kernels.Template;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Vector
{
    /// <summary>
    /// The additive score's gradient for one key block of a backward tile, vectorised over d: t = tanh(q_r + k_j),
    /// u = dS_rj · v ∘ (1 - t²); dQ_r += u, dK_j += u, dv += dS_rj · t. Per row and vector of d, the dQ and dv sums
    /// stay in registers across the row's visible keys.
    /// </summary>
    internal static class AdditiveGradientEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan, VectorSyntax v, VectorTiling t)
        {
            int width = t.Width, bc = t.KeyBlock, dimPad = t.DimPad;
            w.Line("// Additive: t = tanh(q_r + k_j) per d; u = dS_rj · v ∘ (1 - t²); dQ_r += u, dK_j += u, dv += dS_rj · t (visible keys only).");
            using (w.Open("for (int r = 0; r < n; r++)"))
            {
                w.Line($"int jEnd = global::System.Math.Min({Inv(bc)}, limit[r] - j0);");
                w.Line($"float* dsr = ds + r * {Inv(bc)};");
                using (w.Open($"for (int c = 0; c < {Inv(dimPad)}; c += {Inv(width)})"))
                {
                    w.Line($"{v.Type} qv = {v.Load($"qt + r * {Inv(dimPad)} + c")}, vv = {v.Load("va + c")};");
                    w.Line($"{v.Type} dqv = {v.Type}.Zero, dvav = {v.Type}.Zero;");
                    using (w.Open("for (int j = 0; j < jEnd; j++)"))
                    {
                        w.Line($"{v.Type} g = {v.Broadcast("dsr[j]")};");
                        w.Line($"{v.Type} t = {v.Tanh($"qv + {v.Load($"kr + (j0 + j) * {t.RowStride} + c")}")};");
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
