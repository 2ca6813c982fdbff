using Microsoft.CodeAnalysis;

namespace AttnGen.Generator.Diagnostics
{
    /// <summary>Every diagnostic the generator reports. Ids are stable; README.md lists them.</summary>
    internal static class DiagnosticDescriptors
    {
        private const string Category = "AttnGen";

        public static readonly DiagnosticDescriptor NotPartial = new(
            "ATTN0001",
            "Attention layer type must be partial",
            "'{0}' has [AttentionLayer] but is not declared 'partial'; add 'partial' to every declaration of the type so the generator can add the layer's members",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ContainerNotPartial = new(
            "ATTN0002",
            "Type containing an attention layer must be partial",
            "'{0}' is nested in '{1}', which is not partial; add 'partial' to every declaration of '{2}' so the generator can declare the layer inside it",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor Generic = new(
            "ATTN0003",
            "Attention layer type must not be generic",
            "'{0}' is generic; an attention layer has fixed shapes and cannot have type parameters",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor NonPositive = new(
            "ATTN0004",
            "Attention layer dimension must be positive",
            "{0} is {1}; it must be at least 1",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor HeadsNotDivisible = new(
            "ATTN0005",
            "KvHeads must divide heads",
            "heads = {0} is not a multiple of KvHeads = {1}; each key/value head must serve the same number of query heads (for example KvHeads = {2})",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ModelDimMismatch = new(
            "ATTN0006",
            "ModelDim must equal heads * headDim without projections",
            "ModelDim = {0} but heads * headDim = {1}; a layer with Projections = false reads already-projected heads, so its width is heads * headDim (remove ModelDim or set it to {1})",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ScaleNotApplicable = new(
            "ATTN0007",
            "Scale cannot be honoured by this scoring",
            "Scale = {0} cannot be used with Scoring = {1}: {2}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor BiasWithoutProjections = new(
            "ATTN0008",
            "Bias needs projections",
            "Bias = true has no effect with Projections = false: the biases belong to the q/k/v and output projections; remove Bias or set Projections = true",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor OverLimit = new(
            "ATTN0009",
            "Attention layer shape exceeds the generator's limits",
            "{0} is {1}; the generator supports at most {2}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor StaticType = new(
            "ATTN0010",
            "Attention layer type must not be static",
            "'{0}' is static; an attention layer owns its parameters and needs instances, so remove 'static'",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor CausalRowsWithoutKeys = new(
            "ATTN0011",
            "Causal layer has query rows that see no key",
            "With Causal = true and KvSeqLen = {0} < seqLen = {1}, the first {2} query rows see no key; their attention output is zero",
            Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor Record = new(
            "ATTN0014",
            "Attention layer type must not be a record",
            "'{0}' is a record; declare the layer as a 'partial class': a layer owns native buffers, so a record's value equality and 'with' copies (which would share and double-free them) do not apply",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ReservedName = new(
            "ATTN0015",
            "Name taken by the generated code",
            "'{0}' {1}; rename the type",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnsafeNotAllowed = new(
            "ATTN0012",
            "Attention layers need unsafe code",
            "The kernels of '{0}' use pointers; add <AllowUnsafeBlocks>true</AllowUnsafeBlocks> to the project file",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnknownScoring = new(
            "ATTN0013",
            "Unknown scoring",
            "Scoring = {0} is not an AttentionScoring value; use ScaledDotProduct, DotProduct or Additive",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor HasBaseClass = new(
            "ATTN0020",
            "Attention layer type must not declare a base class",
            "'{0}' derives from '{1}', but the generated layer derives from the AttnGen runtime core; remove the base class (interfaces are fine) and hold the other object in a field instead",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnknownInstructionSet = new(
            "ATTN0021",
            "Unknown instruction set in AttnGenInstructionSets",
            "AttnGenInstructionSets is '{0}', and {1} is not an instruction set AttnGen generates; use any of Avx512, Avx2 and Vector128, separated by ';' (the scalar path is always generated)",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor RotaryNotApplicable = new(
            "ATTN0022",
            "Rotary positions cannot be used here",
            "Rotary positions cannot be used here: {0}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor KvCacheNotApplicable = new(
            "ATTN0023",
            "A key/value cache cannot be used here",
            "KvCache = true cannot be used here: {0}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor InternalError = new(
            "ATTN0099",
            "The AttnGen generator failed",
            "The AttnGen generator failed on '{0}': {1}. Please report this with the declaration that caused it.",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);
    }
}
