namespace AttnGen.Decoding.Tests;

// Rotary layers for the full-sequence paths: multi-head and grouped-query, causal and not, scaled and plain dot
// products, a head width (6) that fits no vector and one (32) whose halves are whole vectors, odd sequence lengths,
// the default base and custom ones.

[AttentionLayer(heads: 3, headDim: 6, seqLen: 13, Causal = true, Rotary = true)]
public partial class RotaryMha_3x6x13;

[AttentionLayer(heads: 4, headDim: 32, seqLen: 19, KvHeads = 2, Causal = true, Rotary = true, RotaryBase = 500)]
public partial class RotaryGqa_4kv2x32x19;

[AttentionLayer(heads: 2, headDim: 32, seqLen: 9, ModelDim = 40, Rotary = true, RotaryBase = 10,
    Scoring = AttentionScoring.DotProduct, Bias = false)]
public partial class RotaryDot_2x32x9_m40;

[AttentionLayer(heads: 6, headDim: 6, seqLen: 7, KvHeads = 3, Rotary = true)]
public partial class RotaryGqa_6kv3x6x7;

/// <summary>The rotary layers by name, for theories.</summary>
internal static class RotaryLayers
{
    public static readonly IReadOnlyDictionary<string, Func<ISelfAttentionLayer>> All = new Dictionary<string, Func<ISelfAttentionLayer>>
    {
        [nameof(RotaryMha_3x6x13)] = () => new RotaryMha_3x6x13(),
        [nameof(RotaryGqa_4kv2x32x19)] = () => new RotaryGqa_4kv2x32x19(),
        [nameof(RotaryDot_2x32x9_m40)] = () => new RotaryDot_2x32x9_m40(),
        [nameof(RotaryGqa_6kv3x6x7)] = () => new RotaryGqa_6kv3x6x7(),
        [nameof(RotaryCachedLayer)] = () => new RotaryCachedLayer(),
        [nameof(RotaryLayer)] = () => new RotaryLayer(),
    };

    public static ISelfAttentionLayer Create(string name) => All[name]();

    public static TheoryData<string> Names() => new(All.Keys);

    public static TheoryData<string, KernelIsa> NamesAndPaths()
    {
        var data = new TheoryData<string, KernelIsa>();
        foreach (string name in All.Keys)
        {
            foreach (KernelIsa isa in KernelIsaSupport.Supported)
            {
                data.Add(name, isa);
            }
        }
        return data;
    }
}
