using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Template
{
    /// <summary>
    /// The spelling of vector operations on one path, through aliases every kernel file declares: the vector class
    /// and type, the width's <c>IVectorOps</c> struct, the runtime's shape-independent math (<c>VectorMath</c>: exp,
    /// tanh, horizontal max and sum, inlined into the kernels) and its <c>KernelSupport</c>. On the scalar path the
    /// vector type is <c>float</c> and <c>ScalarOps</c> its ops struct; it has no vector class, so no <c>AgVec</c> alias,
    /// and load, store, broadcast and multiply-add are spelled as the plain float expressions <c>ScalarOps</c> inlines
    /// to (<c>p[i]</c>, <c>a * b + c</c>, not fused), so the template's output at width 1 reads, and compiles, as
    /// scalar code.
    /// </summary>
    internal sealed class VectorSyntax
    {
        private readonly IsaProfile _isa;

        public VectorSyntax(IsaProfile isa) => _isa = isa;

        public IsaProfile Isa => _isa;

        /// <summary>The vector type, through the file's alias.</summary>
        public string Type => "AgVecF";

        // Load, store and broadcast go through the width's ops struct (one overload each, inlined to the same
        // instruction) rather than the vector class, whose generic and overloaded Load, Store and Create make the
        // compiler run overload resolution at each of the thousands of call sites in a layer's kernels.
        public string Load(string pointer) => IsScalar ? Element(pointer) : $"AgOps.Load({pointer})";

        public string Store(string value, string pointer) => IsScalar ? $"{Element(pointer)} = {value}" : $"AgOps.Store({value}, {pointer})";

        public string Broadcast(string scalar) => IsScalar ? scalar : $"AgOps.Create({scalar})";

        /// <summary>A vector of zeros (<c>AgVecF.Zero</c>; <c>0f</c> at width 1).</summary>
        public string Zero => IsScalar ? "0f" : $"{Type}.Zero";

        /// <summary>A partial vector: the lanes of <paramref name="mask"/> from <paramref name="pointer"/>, nothing past them read.</summary>
        public string LoadTail(string pointer, string mask) => $"AgOps.LoadTail({pointer}, {mask})";

        /// <summary>Stores the lanes of <paramref name="mask"/> only.</summary>
        public string StoreTail(string value, string pointer, string mask) => $"AgOps.StoreTail({value}, {pointer}, {mask})";

        /// <summary>A mask of the first <paramref name="count"/> lanes, for <see cref="LoadTail"/> and <see cref="StoreTail"/>.</summary>
        public string TailMask(string count) => $"AgOps.TailMask({count})";

        /// <summary><c>a * b + c</c>: fused on the AVX paths, fused where the hardware has it on the 128-bit one (the width's <c>IVectorOps.MultiplyAdd</c>).</summary>
        public string Fma(string a, string b, string c) => IsScalar ? $"{a} * {b} + {c}" : $"AgOps.MultiplyAdd({a}, {b}, {c})";

        /// <summary>
        /// One tile row's step by lane: <c>c{r}_{j} += b{j} * a[lane]</c> for each of the <paramref name="vectors"/> vectors of B,
        /// fused (<c>Vector128Ops.MultiplyAddByLane</c>; one by-element <c>fmla</c> each on Arm64).
        /// </summary>
        public string FmaRowByLane(string a, int lane, int row, int vectors)
        {
            var bs = new System.Collections.Generic.List<string>();
            var cs = new System.Collections.Generic.List<string>();
            for (int c = 0; c < vectors; c++)
            {
                bs.Add($"b{c}");
                cs.Add($"c{row}_{c}");
            }
            string sum = $"AgOps.MultiplyAddByLane({a}, {Inv(lane)}, {string.Join(", ", bs)}, {string.Join(", ", cs)});";
            return vectors == 1 ? $"{cs[0]} = {sum}" : $"({string.Join(", ", cs)}) = {sum}";
        }

        /// <summary>The JIT-time constant that picks a profile's by-lane body (<see cref="IsaProfile.ByLane"/>).</summary>
        public string HasMultiplyAddByLane => "AgOps.HasMultiplyAddByLane";

        // Width 1: the vector is a float (ScalarOps), and a column count never leaves a tail.
        private bool IsScalar => _isa.Width == 1;

        // The float a pointer expression addresses: &x[i] is x[i], a name p is *p, anything else *(...).
        private static string Element(string pointer)
        {
            if (pointer.StartsWith("&", System.StringComparison.Ordinal))
            {
                return pointer.Substring(1);
            }
            foreach (char c in pointer)
            {
                if (!char.IsLetterOrDigit(c) && c != '_')
                {
                    return $"*({pointer})";
                }
            }
            return "*" + pointer;
        }

        /// <summary>tanh through the runtime's inlined helper.</summary>
        public string Tanh(string x) => $"AgMath.Tanh({x})";

        /// <summary>The alias lines every vector file starts with (prefixed so they cannot meet a user type of the same name).</summary>
        public string[] Aliases
        {
            get
            {
                string vector = _isa.VectorType;
                string generic = $"<global::AttnGen.{_isa.OpsStruct}, {vector}>";
                var aliases = new System.Collections.Generic.List<string>();
                if (_isa.VectorClass is not null)
                {
                    aliases.Add($"using AgVec = {_isa.VectorClass};");
                }
                aliases.Add($"using AgVecF = {vector};");
                aliases.Add($"using AgOps = global::AttnGen.{_isa.OpsStruct};");
                aliases.Add($"using AgMath = global::AttnGen.VectorMath{generic};");
                aliases.Add("using AgSupport = global::AttnGen.KernelSupport;");
                return aliases.ToArray();
            }
        }
    }
}
