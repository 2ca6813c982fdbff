using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Scalar
{
    /// <summary>Emits the scalar projection GEMMs <c>Y = X · Wᵀ + b</c> with constant M, N and K, and their backward.</summary>
    internal static class ScalarProjectionEmitter
    {
        public static void Emit(SourceWriter w, LinearShape shape)
        {
            string m = Inv(shape.M), n = Inv(shape.N), k = Inv(shape.K);
            w.Line($"// {shape.KernelName}__scalar: Y[{m}, {n}] = X[{m}, {k}] · W[{n}, {k}]ᵀ{(shape.Bias ? " + b" : "")}");
            string biasParam = shape.Bias ? ", float* b" : "";
            using (w.Open($"private static unsafe void {shape.KernelName}__scalar(float* x, float* w{biasParam}, float* y)"))
            {
                EmitRowLoop(w, shape, m, n);
            }
            w.Line();
        }

        /// <summary>
        /// The loop body of a scalar projection over <paramref name="rows"/> rows of X (row stride K) into Y rows
        /// <paramref name="rowStride"/> apart; both are constants or the names of the kernel's arguments.
        /// </summary>
        public static void EmitRowLoop(SourceWriter w, LinearShape shape, string rows, string rowStride)
        {
            string n = Inv(shape.N), k = Inv(shape.K);
            using (w.Open($"for (int m = 0; m < {rows}; m++)"))
            {
                w.Line($"float* xm = x + m * {k};");
                w.Line($"float* ym = y + m * {rowStride};");
                using (w.Open($"for (int n = 0; n < {n}; n++)"))
                {
                    w.Line($"float* wn = w + n * {k};");
                    w.Line("float acc = 0f;");
                    using (w.Open($"for (int k = 0; k < {k}; k++)"))
                    {
                        w.Line("acc += xm[k] * wn[k];");
                    }
                    w.Line(shape.Bias ? "ym[n] = acc + b[n];" : "ym[n] = acc;");
                }
            }
        }

        /// <summary>
        /// <c>{BackwardKernelName}__scalar</c>: the same contract as the vector paths' projection backward (see
        /// <see cref="Vector.VectorProjectionBackwardEmitter"/>), through the runtime's row-update loop.
        /// </summary>
        public static void EmitBackward(SourceWriter w, LinearShape shape)
        {
            string m = Inv(shape.M), n = Inv(shape.N), k = Inv(shape.K);
            w.Line($"// {shape.BackwardKernelName}__scalar: dX[{m}, {k}] = dY · W; dW[{n}, {k}] += dYᵀ · X{(shape.Bias ? $"; db[{n}] += Σ_rows dY" : "")}");
            using (w.Open($"private static unsafe void {shape.BackwardKernelName}__scalar(float* dy, float* x, float* w, float* dw{(shape.Bias ? ", float* db" : "")}, float* dx)"))
            {
                w.Line($"global::AttnGen.KernelSupport.LinearBackward(dy, x, w, dw, {(shape.Bias ? "db" : "null")}, dx, {m}, {n}, {k});");
            }
            w.Line();
        }
    }
}
