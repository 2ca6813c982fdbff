using AttnGen;

namespace QuickStart;

/// <summary>Decoder self-attention: 8 heads of 64, 128 tokens, each token sees itself and the past.</summary>
[AttentionLayer(heads: 8, headDim: 64, seqLen: 128, Causal = true)]
public partial class DecoderSelfAttention;

/// <summary>
/// Cross-attention with grouped-query attention: 8 query heads share 2 key/value heads; 32 queries
/// attend over 96 encoder positions.
/// </summary>
[AttentionLayer(heads: 8, headDim: 32, seqLen: 32, KvHeads = 2, KvSeqLen = 96)]
public partial class EncoderCrossAttention;
