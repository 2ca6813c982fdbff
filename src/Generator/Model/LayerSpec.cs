namespace AttnGen.Generator.Model
{
    /// <summary>Mirror of <c>AttnGen.AttentionScoring</c> (the generator does not load the attribute assembly).</summary>
    internal enum ScoringKind
    {
        ScaledDotProduct = 0,
        DotProduct = 1,
        Additive = 2,
    }

    /// <summary>
    /// What the user declared, resolved and checked: the cache boundary of the pipeline. Primitives and
    /// strings only, never a symbol, node, location or compilation.
    /// </summary>
    internal sealed record LayerSpec(
        string Namespace,
        EquatableArray<ContainingType> ContainingTypes,
        string TypeName,
        int Heads,
        int HeadDim,
        int SeqLen,
        int ModelDim,
        int KvHeads,
        int KvSeqLen,
        ScoringKind Scoring,
        bool Causal,
        bool Bias,
        bool Projections,
        double Scale)
    {
        /// <summary>Rotary position embedding on the projected q and k.</summary>
        public bool Rotary { get; init; }

        /// <summary>The base of the rotary angles.</summary>
        public double RotaryBase { get; init; } = 10000.0;

        /// <summary>Decoding with a key/value cache.</summary>
        public bool KvCache { get; init; }

        /// <summary>
        /// Fully qualified name without <c>global::</c>, containing types included and their type parameters
        /// left out (<c>Demo.Outer.Layer</c>). Like <see cref="Namespace"/> and <see cref="TypeName"/> it is
        /// unescaped (<c>event.Layer</c>, not <c>@event.Layer</c>); code uses <c>EmitCommon.Identifier</c>.
        /// </summary>
        public string FullName
        {
            get
            {
                var name = new System.Text.StringBuilder(Namespace);
                foreach (ContainingType container in ContainingTypes)
                {
                    name.Append(name.Length == 0 ? "" : ".").Append(container.Name);
                }
                return name.Append(name.Length == 0 ? "" : ".").Append(TypeName).ToString();
            }
        }
    }

    /// <summary>Result of parsing one attributed type: a spec when it can be generated, and diagnostics.</summary>
    internal sealed record ParseResult(LayerSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
}
