using AttnGen;

namespace PackageConsumer;

/// <summary>A causal self-attention layer as a user declares it.</summary>
[AttentionLayer(heads: 4, headDim: 16, seqLen: 24, Causal = true)]
public partial class ConsumerAttention;
