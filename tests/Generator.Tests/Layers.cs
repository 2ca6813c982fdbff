namespace AttnGen.Generator.Tests;

/// <summary>
/// Valid layer declarations, one source file each, chosen so that together they use every option of
/// <see cref="AttentionLayerAttribute"/> and every way of placing a type.
/// </summary>
public static class Layers
{
    /// <summary>Causal self-attention at the README's shape, in a file-scoped namespace.</summary>
    public const string CausalSelfAttention = """
        using AttnGen;

        namespace Demo.Decoders;

        /// <summary>Decoder self-attention.</summary>
        [AttentionLayer(heads: 8, headDim: 64, seqLen: 128, Causal = true)]
        public partial class CausalSelfAttention;
        """;

    /// <summary>Cross-attention (KvSeqLen differs) with an explicit ModelDim, in a block namespace.</summary>
    public const string CrossAttention = """
        using AttnGen;

        namespace Demo.Translation
        {
            /// <summary>Decoder queries over encoder keys and values.</summary>
            [AttentionLayer(4, 16, 10, KvSeqLen = 24, ModelDim = 48)]
            public partial class CrossAttention
            {
            }
        }
        """;

    /// <summary>Grouped-query attention without biases, with rotary positions at a custom base.</summary>
    public const string GroupedQuery = """
        using AttnGen;

        namespace Demo.Decoders;

        /// <summary>Eight query heads sharing two key/value heads; q and k turned by their positions.</summary>
        [AttentionLayer(8, 16, 32, KvHeads = 2, Causal = true, Bias = false, Rotary = true, RotaryBase = 500000)]
        public partial class GroupedQueryAttention;
        """;

    /// <summary>Multi-query attention with unscaled scores and awkward sizes, in the global namespace.</summary>
    public const string MultiQueryDotProduct = """
        using AttnGen;

        /// <summary>One key/value head; head width 3 and sequence length 37 fit no vector.</summary>
        [AttentionLayer(heads: 4, headDim: 3, seqLen: 37, KvHeads = 1, Scoring = AttentionScoring.DotProduct)]
        public partial class MultiQueryAttention;
        """;

    /// <summary>Additive (Bahdanau) scoring on the bare attention core: no projections, cross lengths.</summary>
    public const string AdditiveCore = """
        using AttnGen;

        namespace Demo.Alignment;

        /// <summary>Additive attention over already-projected heads.</summary>
        [AttentionLayer(2, 5, 7, KvSeqLen = 11, Scoring = AttentionScoring.Additive, Projections = false)]
        public partial class AdditiveAttention;
        """;

    /// <summary>An explicit score scale on a causal cross layer whose keys run past the queries.</summary>
    public const string ScaledCausalCross = """
        using AttnGen;

        namespace Demo.Decoders;

        /// <summary>Causal attention with a cache of 6 earlier keys before the 4 new queries.</summary>
        [AttentionLayer(2, 8, 4, KvSeqLen = 10, Causal = true, Scale = 0.3, Scoring = AttentionScoring.ScaledDotProduct)]
        public partial class ScaledCausalAttention;
        """;

    /// <summary>C# keywords as namespace and type names: the generated code must escape them.</summary>
    public const string KeywordNames = """
        using AttnGen;

        namespace @event.@class;

        /// <summary>A layer whose names are keywords.</summary>
        [AttentionLayer(2, 4, 3)]
        public partial class @operator;
        """;

    /// <summary>A layer nested in a static partial class and a partial struct.</summary>
    public const string Nested = """
        using AttnGen;

        namespace Demo.Nesting;

        /// <summary>A model's parts.</summary>
        public static partial class Model
        {
            /// <summary>One encoder block.</summary>
            public partial struct Block
            {
                /// <summary>The block's attention.</summary>
                [AttentionLayer(2, 4, 3)]
                internal sealed partial class Attention;
            }
        }
        """;

    /// <summary>A grouped-query decoder with rotary positions and a key/value cache: the decoding entry points of the kernel table.</summary>
    public const string CachedDecoder = """
        using AttnGen;

        namespace Demo.Decoders;

        /// <summary>Decodes with a key/value cache of 1024 positions.</summary>
        [AttentionLayer(heads: 8, headDim: 64, seqLen: 1024, KvHeads = 2, Causal = true, Rotary = true, KvCache = true)]
        public partial class Decoder;
        """;

    /// <summary>Every declaration above, by name.</summary>
    public static IReadOnlyList<(string Name, string Source)> All { get; } = new[]
    {
        (nameof(CausalSelfAttention), CausalSelfAttention),
        (nameof(CrossAttention), CrossAttention),
        (nameof(GroupedQuery), GroupedQuery),
        (nameof(MultiQueryDotProduct), MultiQueryDotProduct),
        (nameof(AdditiveCore), AdditiveCore),
        (nameof(ScaledCausalCross), ScaledCausalCross),
        (nameof(KeywordNames), KeywordNames),
        (nameof(Nested), Nested),
        (nameof(CachedDecoder), CachedDecoder),
    };

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach ((string name, _) in All)
        {
            data.Add(name);
        }
        return data;
    }

    public static string Get(string name) => All.Single(l => l.Name == name).Source;
}
