namespace AttnGen.Generator.Model
{
    /// <summary>
    /// One vector instruction set the generator emits kernels for: names, the JIT-time support check, the
    /// vector width, and the register tiles chosen for it (see each profile's comment for the budget).
    /// </summary>
    internal sealed class IsaProfile
    {
        private IsaProfile(string enumName, string suffix, string supportCheck, string vectorType, int width)
        {
            EnumName = enumName;
            Suffix = suffix;
            SupportCheck = supportCheck;
            VectorType = vectorType;
            Width = width;
        }

        /// <summary>Member of <c>AttnGen.KernelIsa</c>.</summary>
        public string EnumName { get; }

        /// <summary>Kernel name suffix, e.g. <c>avx512</c> in <c>Attention__avx512</c>.</summary>
        public string Suffix { get; }

        /// <summary>Expression that is true when the path can run; the JIT folds it to a constant.</summary>
        public string SupportCheck { get; }

        /// <summary><c>global::System.Runtime.Intrinsics.Vector512</c> and so on.</summary>
        public string VectorType { get; }

        /// <summary>Floats per vector.</summary>
        public int Width { get; }

        /// <summary>The vector paths, widest first (the order the dispatcher tries them).</summary>
        public static IsaProfile[] Vector { get; } = new IsaProfile[0];
    }
}
