using AttnGen;

namespace CharLM.Model;

/// <summary>
/// The language model's attention: causal self-attention over 128 characters, 4 heads of 16 (model width 64),
/// with rotary positions on the queries and keys and a key/value cache for generation
/// (Generation/CachedGenerator.cs).
/// </summary>
[AttentionLayer(heads: 4, headDim: 16, seqLen: 128, Causal = true, Rotary = true, KvCache = true)]
public partial class CharAttention : ICausalAttention;
