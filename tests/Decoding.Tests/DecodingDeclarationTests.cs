namespace AttnGen.Decoding.Tests;

[AttentionLayer(heads: 4, headDim: 8, seqLen: 24, KvHeads = 2, Causal = true, Rotary = true, RotaryBase = 500, KvCache = true)]
public partial class RotaryCachedLayer;

[AttentionLayer(heads: 2, headDim: 6, seqLen: 10, Causal = true, Rotary = true)]
public partial class RotaryLayer;

[AttentionLayer(heads: 2, headDim: 6, seqLen: 10, Causal = true)]
public partial class PlainCausalLayer;

/// <summary>What a declaration with <c>Rotary</c>, <c>RotaryBase</c> and <c>KvCache</c> resolves to in the generated kernel table.</summary>
public class DecodingDeclarationTests
{
    [Fact]
    public void Info_CarriesTheDecodingOptions()
    {
        AttentionLayerInfo info = RotaryCachedLayer.LayerInfo;
        Assert.True(info.Rotary);
        Assert.Equal(500d, info.RotaryBase);
        Assert.True(info.KvCache);

        AttentionLayerInfo rotaryOnly = RotaryLayer.LayerInfo;
        Assert.True(rotaryOnly.Rotary);
        Assert.Equal(10000d, rotaryOnly.RotaryBase);
        Assert.False(rotaryOnly.KvCache);

        AttentionLayerInfo plain = PlainCausalLayer.LayerInfo;
        Assert.False(plain.Rotary);
        Assert.False(plain.KvCache);
    }

    [Fact]
    public void RotaryTable_CoversEveryPositionWithTheDeclaredBase()
    {
        RotaryTable table = RotaryTableOf<RotaryCachedLayer.Kernels>()!;
        Assert.Equal(RotaryCachedLayer.HeadDim, table.HeadDim);
        Assert.Equal(RotaryCachedLayer.SeqLen, table.Positions);
        Assert.Equal(500d, table.Base);
        // Pair 1 of position 23 turns by 23 · 500^(−2/8).
        double angle = 23 * Math.Pow(500, -2.0 / 8);
        Assert.Equal(Math.Cos(angle), table.Cos(23, 1), 1e-6);
        Assert.Equal(Math.Sin(angle), table.Sin(23, 1), 1e-6);

        Assert.Same(table, RotaryTableOf<RotaryCachedLayer.Kernels>());
        Assert.Null(RotaryTableOf<PlainCausalLayer.Kernels>());
    }

    private static RotaryTable? RotaryTableOf<TKernels>() where TKernels : struct, IAttentionKernels => TKernels.Rotary;
}
