namespace AttnGen.Benchmarks.Layers;

// Bare attention cores, (heads, seqLen, headDim), plain and causal.

[AttentionLayer(heads: 8, headDim: 64, seqLen: 128, Projections = false)]
public partial class Core_8x128x64 ;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 128, Projections = false, Causal = true)]
public partial class Core_8x128x64_Causal ;

[AttentionLayer(heads: 12, headDim: 64, seqLen: 256, Projections = false)]
public partial class Core_12x256x64 ;

[AttentionLayer(heads: 12, headDim: 64, seqLen: 256, Projections = false, Causal = true)]
public partial class Core_12x256x64_Causal ;

[AttentionLayer(heads: 8, headDim: 32, seqLen: 64, Projections = false)]
public partial class Core_8x64x32 ;

[AttentionLayer(heads: 8, headDim: 32, seqLen: 64, Projections = false, Causal = true)]
public partial class Core_8x64x32_Causal ;

[AttentionLayer(heads: 4, headDim: 64, seqLen: 512, Projections = false)]
public partial class Core_4x512x64 ;

[AttentionLayer(heads: 4, headDim: 64, seqLen: 512, Projections = false, Causal = true)]
public partial class Core_4x512x64_Causal ;

[AttentionLayer(heads: 16, headDim: 64, seqLen: 1024, Projections = false)]
public partial class Core_16x1024x64 ;

[AttentionLayer(heads: 16, headDim: 64, seqLen: 1024, Projections = false, Causal = true)]
public partial class Core_16x1024x64_Causal ;

// Head dims past the 6 x 64 P·V tile and not a power of two, and sequence lengths that are not multiples of 64 next
// to the nearest multiples (320 and 384 around 333; 128 next to 100 is above).

[AttentionLayer(heads: 8, headDim: 128, seqLen: 256, Projections = false)]
public partial class Core_8x256x128 ;

[AttentionLayer(heads: 8, headDim: 128, seqLen: 256, Projections = false, Causal = true)]
public partial class Core_8x256x128_Causal ;

[AttentionLayer(heads: 8, headDim: 80, seqLen: 256, Projections = false)]
public partial class Core_8x256x80 ;

[AttentionLayer(heads: 8, headDim: 80, seqLen: 256, Projections = false, Causal = true)]
public partial class Core_8x256x80_Causal ;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 100, Projections = false)]
public partial class Core_8x100x64 ;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 100, Projections = false, Causal = true)]
public partial class Core_8x100x64_Causal ;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 320, Projections = false)]
public partial class Core_8x320x64 ;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 320, Projections = false, Causal = true)]
public partial class Core_8x320x64_Causal ;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 333, Projections = false)]
public partial class Core_8x333x64 ;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 333, Projections = false, Causal = true)]
public partial class Core_8x333x64_Causal ;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 384, Projections = false)]
public partial class Core_8x384x64 ;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 384, Projections = false, Causal = true)]
public partial class Core_8x384x64_Causal ;

// Full layers with q/k/v and output projections and biases.

[AttentionLayer(heads: 8, headDim: 64, seqLen: 128, ModelDim = 512)]
public partial class Layer_8x128x64 : IFullLayer;

[AttentionLayer(heads: 2, headDim: 32, seqLen: 16)]
public partial class Layer_2x16x32 : IFullLayer;

[AttentionLayer(heads: 4, headDim: 16, seqLen: 32)]
public partial class Layer_4x32x16 : IFullLayer;

// The causal core at S = 256 for the backward benchmark.

[AttentionLayer(heads: 8, headDim: 64, seqLen: 256, Projections = false, Causal = true)]
public partial class Core_8x256x64_Causal ;

// Decoding with a key/value cache (8 query heads over 2 key/value heads of 64, ModelDim 512), and the plain causal
// layers of the same shape that recompute a whole prefix of 128 and 512 positions.

[AttentionLayer(heads: 8, headDim: 64, seqLen: 1024, KvHeads = 2, Causal = true, KvCache = true)]
public partial class Decoder_8x1024x64_Kv2 ;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 128, KvHeads = 2, Causal = true)]
public partial class Causal_8x128x64_Kv2 ;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 512, KvHeads = 2, Causal = true)]
public partial class Causal_8x512x64_Kv2 ;

// A longer full layer for one sequence on two threads.

[AttentionLayer(heads: 8, headDim: 64, seqLen: 512, ModelDim = 512)]
public partial class Layer_8x512x64 : IFullLayer;

// Multi-query attention (one key/value head) at the same size: a shared sequence's backward core cannot be split by
// key/value heads.
[AttentionLayer(heads: 8, headDim: 64, seqLen: 512, KvHeads = 1, ModelDim = 512)]
public partial class Layer_8x512x64_Mqa : IFullLayer;
