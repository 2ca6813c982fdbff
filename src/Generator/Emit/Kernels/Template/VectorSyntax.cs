using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit.Kernels.Template
{
    /// <summary>
    /// The spelling of vector operations on one path, through aliases every vector kernel file declares: the
    /// vector class and type, the width's <c>IVectorOps</c> struct, the runtime's shape-independent math
    /// (<c>VectorMath</c>: exp, tanh, horizontal max and sum, inlined into the kernels) and its <c>KernelSupport</c>.
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
        public string Load(string pointer) => $"AgOps.Load({pointer})";

        public string Store(string value, string pointer) => $"AgOps.Store({value}, {pointer})";

        public string Broadcast(string scalar) => $"AgOps.Create({scalar})";

        /// <summary>A partial vector: the lanes of <paramref name="mask"/> from <paramref name="pointer"/>, nothing past them read.</summary>
        public string LoadTail(string pointer, string mask) => $"AgOps.LoadTail({pointer}, {mask})";

        /// <summary>Stores the lanes of <paramref name="mask"/> only.</summary>
        public string StoreTail(string value, string pointer, string mask) => $"AgOps.StoreTail({value}, {pointer}, {mask})";

        /// <summary>A mask of the first <paramref name="count"/> lanes, for <see cref="LoadTail"/> and <see cref="StoreTail"/>.</summary>
        public string TailMask(string count) => $"AgOps.TailMask({count})";

        /// <summary><c>a * b + c</c>: fused on the AVX paths, fused where the hardware has it on the 128-bit one (the width's <c>IVectorOps.MultiplyAdd</c>).</summary>
        public string Fma(string a, string b, string c) => $"AgOps.MultiplyAdd({a}, {b}, {c})";

        /// <summary>tanh through the runtime's inlined helper.</summary>
        public string Tanh(string x) => $"AgMath.Tanh({x})";

        /// <summary>The alias lines every vector file starts with (prefixed so they cannot meet a user type of the same name).</summary>
        public string[] Aliases
        {
            get
            {
                string vector = $"{_isa.VectorClass}<float>";
                string generic = $"<global::AttnGen.{_isa.OpsStruct}, {vector}>";
                return new[]
                {
                    $"using AgVec = {_isa.VectorClass};",
                    $"using AgVecF = {vector};",
                    $"using AgOps = global::AttnGen.{_isa.OpsStruct};",
                    $"using AgMath = global::AttnGen.VectorMath{generic};",
                    "using AgSupport = global::AttnGen.KernelSupport;",
                };
            }
        }
    }
}
