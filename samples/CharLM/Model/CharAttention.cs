using AttnGen;

namespace CharLM.Model;

/// <summary>
/// The language model's attention: causal self-attention over 128 characters, 4 heads of 16 (model width 64).
/// Generation with a key/value cache (Generation/CachedGenerator.cs) needs the layer's cache, declared
/// with <c>Rotary = true, KvCache = true</c>; the CHARLM_KVCACHE build symbol switches to that declaration.
/// </summary>
#if CHARLM_KVCACHE
[AttentionLayer(heads: 4, headDim: 16, seqLen: 128, Causal = true, Rotary = true, KvCache = true)]
#else
[AttentionLayer(heads: 4, headDim: 16, seqLen: 128, Causal = true)]
#endif
public partial class CharAttention : ICausalAttention;
