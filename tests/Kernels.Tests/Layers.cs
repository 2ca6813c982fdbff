namespace AttnGen.Kernels.Tests;

// The layers under test. Each declaration picks awkward sizes on purpose: prime sequence lengths, head
// dims that are not a multiple of any vector width (1, 3, 24, 80), S = 1, several key blocks, GQA and
// MQA, cross-attention with bottom-right causal alignment, every scoring, with and without bias and
// projections.

[AttentionLayer(heads: 4, headDim: 24, seqLen: 37, ModelDim = 80)]
public partial class SelfProj_4x24x37_m80;

[AttentionLayer(heads: 2, headDim: 80, seqLen: 37, Causal = true)]
public partial class SelfCausal_2x80x37;

[AttentionLayer(heads: 3, headDim: 3, seqLen: 1)]
public partial class Single_3x3x1;

[AttentionLayer(heads: 2, headDim: 1, seqLen: 17, ModelDim = 5)]
public partial class HeadDim1_2x1x17_m5;

[AttentionLayer(heads: 6, headDim: 16, seqLen: 33, KvHeads = 2, Causal = true)]
public partial class GqaCausal_6kv2x16x33;

[AttentionLayer(heads: 4, headDim: 8, seqLen: 20, KvHeads = 1, ModelDim = 24)]
public partial class Mqa_4kv1x8x20_m24;

[AttentionLayer(heads: 4, headDim: 24, seqLen: 13, KvSeqLen = 37)]
public partial class Cross_4x24_13over37;

[AttentionLayer(heads: 2, headDim: 16, seqLen: 5, KvSeqLen = 37, Causal = true)]
public partial class CrossCausal_2x16_5over37;

// A head of 7 AVX-512 vectors (13 AVX2, 25 128-bit), which no tile width past one vector divides: on the vector paths the
// P·V and update tiles cover it one vector at a time.
[AttentionLayer(heads: 2, headDim: 100, seqLen: 19, KvSeqLen = 70, Projections = false)]
public partial class CoreWideHead_2x100_19over70;

[AttentionLayer(heads: 2, headDim: 24, seqLen: 19, Scoring = AttentionScoring.DotProduct)]
public partial class Dot_2x24x19;

[AttentionLayer(heads: 2, headDim: 24, seqLen: 19, Scoring = AttentionScoring.Additive)]
public partial class Additive_2x24x19;

[AttentionLayer(heads: 4, headDim: 8, seqLen: 11, KvHeads = 2, KvSeqLen = 29, Causal = true, Scoring = AttentionScoring.Additive)]
public partial class AdditiveCrossCausalGqa_4kv2x8_11over29;

[AttentionLayer(heads: 3, headDim: 16, seqLen: 21, Bias = false, ModelDim = 40)]
public partial class NoBias_3x16x21_m40;

[AttentionLayer(heads: 3, headDim: 3, seqLen: 37, Projections = false)]
public partial class Core_3x3x37;

[AttentionLayer(heads: 2, headDim: 64, seqLen: 130, Causal = true, Projections = false)]
public partial class CoreCausal_2x64x130;

[AttentionLayer(heads: 4, headDim: 20, seqLen: 9, KvHeads = 2, KvSeqLen = 70, Projections = false)]
public partial class CoreCrossGqa_4kv2x20_9over70;

// Fewer keys than queries under the bottom-right causal mask: the first 20 rows see no key, so on the vector paths the
// backward's first passes hold whole query tiles, and later passes leading tiles, that see none of a key block.
#pragma warning disable ATTN0011 // the rows without keys are the point of this layer
[AttentionLayer(heads: 4, headDim: 16, seqLen: 40, KvHeads = 2, KvSeqLen = 20, Causal = true, Projections = false)]
public partial class CoreCausalFewerKeys_4kv2x16_40over20;
#pragma warning restore ATTN0011

[AttentionLayer(heads: 2, headDim: 32, seqLen: 16, Scale = 0.05)]
public partial class Scaled_2x32x16;

[AttentionLayer(heads: 1, headDim: 64, seqLen: 200, Causal = true)]
public partial class LongCausal_1x64x200;

[AttentionLayer(heads: 2, headDim: 7, seqLen: 45, KvSeqLen = 3, Scoring = AttentionScoring.Additive, Projections = false)]
public partial class CoreAdditive_2x7_45over3;

// Edge-case matrix around the register tiles. AVX-512: 16 floats per vector, 6 query rows x 64 keys per
// attention tile, GEMM 12 rows x 32 columns. AVX2: 8 floats, 6 x 32, GEMM 6 x 16. 128-bit: 4 floats,
// 4 x 32, GEMM 4 x 16. Each layer sits below, on, or just above those sizes.

[AttentionLayer(heads: 1, headDim: 16, seqLen: 8, KvSeqLen = 64, Projections = false)]
public partial class EdgeOnTile_1x16_8over64;

[AttentionLayer(heads: 2, headDim: 17, seqLen: 9, KvSeqLen = 65, Projections = false)]
public partial class EdgeAboveTile_2x17_9over65;

[AttentionLayer(heads: 2, headDim: 15, seqLen: 7, KvSeqLen = 63, Projections = false, Causal = true)]
public partial class EdgeBelowTileCausal_2x15_7over63;

[AttentionLayer(heads: 1, headDim: 8, seqLen: 6, KvSeqLen = 32, Projections = false)]
public partial class EdgeOnAvx2Tile_1x8_6over32;

[AttentionLayer(heads: 3, headDim: 9, seqLen: 13, KvSeqLen = 33, Projections = false, Causal = true)]
public partial class EdgeAboveSmallTiles_3x9_13over33;

[AttentionLayer(heads: 4, headDim: 8, seqLen: 12, ModelDim = 32)]
public partial class EdgeGemmOnTile_4x8x12_m32;

[AttentionLayer(heads: 3, headDim: 11, seqLen: 13, ModelDim = 33)]
public partial class EdgeGemmAboveTile_3x11x13_m33;

[AttentionLayer(heads: 5, headDim: 3, seqLen: 11, ModelDim = 31, Causal = true)]
public partial class EdgeGemmBelowTile_5x3x11_m31;

/// <summary>Every layer above by name, for theories.</summary>
public static class TestLayers
{
    public static readonly IReadOnlyDictionary<string, Func<IAttentionLayer>> All = new Dictionary<string, Func<IAttentionLayer>>
    {
        [nameof(SelfProj_4x24x37_m80)] = () => new SelfProj_4x24x37_m80(),
        [nameof(SelfCausal_2x80x37)] = () => new SelfCausal_2x80x37(),
        [nameof(Single_3x3x1)] = () => new Single_3x3x1(),
        [nameof(CoreWideHead_2x100_19over70)] = () => new CoreWideHead_2x100_19over70(),
        [nameof(HeadDim1_2x1x17_m5)] = () => new HeadDim1_2x1x17_m5(),
        [nameof(GqaCausal_6kv2x16x33)] = () => new GqaCausal_6kv2x16x33(),
        [nameof(Mqa_4kv1x8x20_m24)] = () => new Mqa_4kv1x8x20_m24(),
        [nameof(Cross_4x24_13over37)] = () => new Cross_4x24_13over37(),
        [nameof(CrossCausal_2x16_5over37)] = () => new CrossCausal_2x16_5over37(),
        [nameof(Dot_2x24x19)] = () => new Dot_2x24x19(),
        [nameof(Additive_2x24x19)] = () => new Additive_2x24x19(),
        [nameof(AdditiveCrossCausalGqa_4kv2x8_11over29)] = () => new AdditiveCrossCausalGqa_4kv2x8_11over29(),
        [nameof(NoBias_3x16x21_m40)] = () => new NoBias_3x16x21_m40(),
        [nameof(Core_3x3x37)] = () => new Core_3x3x37(),
        [nameof(CoreCausal_2x64x130)] = () => new CoreCausal_2x64x130(),
        [nameof(CoreCrossGqa_4kv2x20_9over70)] = () => new CoreCrossGqa_4kv2x20_9over70(),
        [nameof(CoreCausalFewerKeys_4kv2x16_40over20)] = () => new CoreCausalFewerKeys_4kv2x16_40over20(),
        [nameof(Scaled_2x32x16)] = () => new Scaled_2x32x16(),
        [nameof(LongCausal_1x64x200)] = () => new LongCausal_1x64x200(),
        [nameof(CoreAdditive_2x7_45over3)] = () => new CoreAdditive_2x7_45over3(),
        [nameof(EdgeOnTile_1x16_8over64)] = () => new EdgeOnTile_1x16_8over64(),
        [nameof(EdgeAboveTile_2x17_9over65)] = () => new EdgeAboveTile_2x17_9over65(),
        [nameof(EdgeBelowTileCausal_2x15_7over63)] = () => new EdgeBelowTileCausal_2x15_7over63(),
        [nameof(EdgeOnAvx2Tile_1x8_6over32)] = () => new EdgeOnAvx2Tile_1x8_6over32(),
        [nameof(EdgeAboveSmallTiles_3x9_13over33)] = () => new EdgeAboveSmallTiles_3x9_13over33(),
        [nameof(EdgeGemmOnTile_4x8x12_m32)] = () => new EdgeGemmOnTile_4x8x12_m32(),
        [nameof(EdgeGemmAboveTile_3x11x13_m33)] = () => new EdgeGemmAboveTile_3x11x13_m33(),
        [nameof(EdgeGemmBelowTile_5x3x11_m31)] = () => new EdgeGemmBelowTile_5x3x11_m31(),
    };

    public static IAttentionLayer Create(string name) => All[name]();

    /// <summary>
    /// The path the layer's last Backward ran on, which the runtime core reports through an internal interface
    /// (a diagnostic, not part of <see cref="IAttentionLayer"/>).
    /// </summary>
    public static KernelIsa LastBackwardIsa(IAttentionLayer layer) => ((IKernelPathReport)layer).LastBackwardIsa;
}
