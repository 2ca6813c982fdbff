using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit
{
    /// <summary>
    /// Emits the small vector functions the kernels of one path share: <c>Exp__{isa}</c>, <c>HMax__{isa}</c> and,
    /// for additive scoring, <c>Tanh__{isa}</c>. They are marked for inlining so the softmax runs without a call
    /// (a call inside the attention tile forces the JIT to spill the tile's registers around it).
    /// </summary>
    internal static class VectorMathEmitter
    {
        private const string Inline = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]";

        public static void Emit(SourceWriter w, KernelPlan plan, IsaProfile isa)
        {
            var v = new VectorSyntax(isa);
            string t = v.Type;

            // Why not Vector512.Exp: on .NET 10 it evaluates float exp in double precision and is not inlined.
            w.Line($"// Exp__{isa.Suffix}: e^x in single precision (relative error at most 1.6e-7 on [-87.3, 88.3]; normal results only). n = round(x·log2 e) by adding");
            w.Line("// 1.5·2^23 + 127, which leaves n + 127 in the low mantissa bits, so 2^n is those bits shifted into the");
            w.Line("// exponent; r = x - n·ln 2 with ln 2 split in two so r is exact; e^r = 1 + r·P(r), P a degree-4 minimax");
            w.Line("// polynomial on [-ln2/2, ln2/2]; e^x = 2^n + (r·2^n)·P(r). x < -87.3365 (also -inf) gives 0, x > 88.3763");
            w.Line("// gives +inf (e^x is still finite up to 88.72, a range no caller uses: softmax arguments are <= 0), NaN stays NaN.");
            w.Line(Inline);
            using (w.Open($"private static {t} Exp__{isa.Suffix}({t} x)"))
            {
                w.Line($"{t} n = {v.Fma("x", "AgVec.Create(1.44269504f)", "AgVec.Create(12583039f)")};");
                w.Line($"{t} scale = AgVec.AsSingle(AgVec.ShiftLeft(AgVec.AsInt32(n), 23));");
                w.Line("n -= AgVec.Create(12583039f);");
                w.Line($"{t} r = {v.Fma("n", "AgVec.Create(-6.93145752e-1f)", "x")};");
                w.Line($"r = {v.Fma("n", "AgVec.Create(-1.42860677e-6f)", "r")};");
                w.Line($"{t} poly = {v.Fma("AgVec.Create(8.28929059e-3f)", "r", "AgVec.Create(4.18978222e-2f)")};");
                w.Line($"poly = {v.Fma("poly", "r", "AgVec.Create(1.66676521e-1f)")};");
                w.Line($"poly = {v.Fma("poly", "r", "AgVec.Create(4.99991506e-1f)")};");
                w.Line($"poly = {v.Fma("poly", "r", "AgVec.Create(9.99999702e-1f)")};");
                w.Line($"{t} result = {v.Fma("r * scale", "poly", "scale")};");
                w.Line($"result = AgVec.ConditionalSelect(AgVec.LessThan(x, AgVec.Create(-87.33654f)), {t}.Zero, result);");
                w.Line($"return AgVec.ConditionalSelect(AgVec.GreaterThan(x, AgVec.Create(88.37626f)), AgVec.Create(float.PositiveInfinity), result);");
            }
            w.Line();

            w.Line($"// HMax__{isa.Suffix}: the largest of the {EmitCommon.Inv(isa.Width)} lanes, by halving (NaN lanes may be ignored).");
            w.Line(Inline);
            using (w.Open($"private static float HMax__{isa.Suffix}({t} x)"))
            {
                const string v128 = "global::System.Runtime.Intrinsics.Vector128";
                const string v256 = "global::System.Runtime.Intrinsics.Vector256";
                string last = "x";
                if (isa.Width == 16)
                {
                    w.Line($"{v256}<float> h8 = {v256}.MaxNative(AgVec.GetLower(x), AgVec.GetUpper(x));");
                    last = "h8";
                }
                if (isa.Width >= 8)
                {
                    w.Line($"{v128}<float> h4 = {v128}.MaxNative({(isa.Width == 16 ? v256 : "AgVec")}.GetLower({last}), {(isa.Width == 16 ? v256 : "AgVec")}.GetUpper({last}));");
                    last = "h4";
                }
                w.Line($"{v128}<float> h2 = {v128}.MaxNative({last}, {v128}.Shuffle({last}, {v128}.Create(2, 3, 0, 1)));");
                w.Line($"return {v128}.ToScalar({v128}.MaxNative(h2, {v128}.Shuffle(h2, {v128}.Create(1, 0, 3, 2))));");
            }
            w.Line();

            if (plan.IsAdditive)
            {
                w.Line("// tanh(x) = 1 - 2 / (e^2x + 1): exact limits ±1 where e^2x is 0 or +inf.");
                w.Line(Inline);
                using (w.Open($"private static {t} Tanh__{isa.Suffix}({t} x)"))
                {
                    w.Line($"{t} e = Exp__{isa.Suffix}(x + x);");
                    w.Line($"return {t}.One - AgVec.Create(2f) / (e + {t}.One);");
                }
                w.Line();
            }
        }
    }
}
