using System;

namespace AttnGen
{
    /// <summary>
    /// Turns a <c>partial class</c> into a fused multi-head attention layer specialised at compile time
    /// for the shapes given here. The AttnGen generator emits the layer's members: shape constants,
    /// parameters in PyTorch <c>nn.MultiheadAttention</c> layout, and <c>Forward</c>.
    /// </summary>
    /// <remarks>
    /// Limits (checked at compile time, diagnostic ATTN0009): heads and KvHeads 1..256, headDim 1..512,
    /// seqLen and KvSeqLen 1..16384, ModelDim and heads * headDim 1..16384, at most 2^28 parameters.
    /// </remarks>
    [AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
    public sealed class AttentionLayerAttribute : Attribute
    {
        /// <param name="heads">Number of query heads.</param>
        /// <param name="headDim">Width of one head.</param>
        /// <param name="seqLen">Query sequence length.</param>
        public AttentionLayerAttribute(int heads, int headDim, int seqLen)
        {
            Heads = heads;
            HeadDim = headDim;
            SeqLen = seqLen;
        }

        /// <summary>Number of query heads.</summary>
        public int Heads { get; }

        /// <summary>Width of one head.</summary>
        public int HeadDim { get; }

        /// <summary>Query sequence length.</summary>
        public int SeqLen { get; }

        /// <summary>Width of the layer's input and output. Default: <c>heads * headDim</c>.</summary>
        public int ModelDim { get; set; }

        /// <summary>
        /// Number of key/value heads. Fewer than <c>heads</c> gives grouped-query attention (one gives
        /// multi-query attention); it must divide <c>heads</c>. Default: <c>heads</c>.
        /// </summary>
        public int KvHeads { get; set; }

        /// <summary>
        /// Key/value sequence length. Default: <c>seqLen</c>. When it differs from <c>seqLen</c> only
        /// the cross-attention <c>Forward(query, key, value, output)</c> is generated.
        /// </summary>
        public int KvSeqLen { get; set; }

        /// <summary>The scoring function. Default: <see cref="AttentionScoring.ScaledDotProduct"/>.</summary>
        public AttentionScoring Scoring { get; set; }

        /// <summary>
        /// Causal mask: query <c>i</c> sees keys <c>0 .. i + (KvSeqLen - SeqLen)</c> (aligned to the end, as
        /// PyTorch's bottom-right causal mask). Default: <c>false</c>.
        /// </summary>
        public bool Causal { get; set; }

        /// <summary>Biases on the q/k/v and output projections. Default: <c>true</c>.</summary>
        public bool Bias { get; set; } = true;

        /// <summary>
        /// Whether the layer has its q/k/v input projections and output projection. <c>false</c> gives the
        /// bare attention core: inputs are already-projected <c>[batch, seq, heads*headDim]</c> queries and
        /// <c>[batch, kvSeq, kvHeads*headDim]</c> keys and values, and <c>ModelDim</c> must be
        /// <c>heads * headDim</c>. Default: <c>true</c>.
        /// </summary>
        public bool Projections { get; set; } = true;

        /// <summary>
        /// Overrides the score scale of <see cref="AttentionScoring.ScaledDotProduct"/> (default
        /// <c>1/sqrt(headDim)</c>). Must be finite and positive; other scorings take no scale.
        /// </summary>
        public double Scale { get; set; }

        /// <summary>
        /// Rotary position embedding (RoPE): each query and key head vector is rotated by its absolute position
        /// after the projection, in the "rotate half" pairing of GPT-NeoX and Hugging Face Llama. Needs an even
        /// <c>headDim</c>, self-attention with projections, and scaled or plain dot-product scoring. Default: <c>false</c>.
        /// </summary>
        public bool Rotary { get; set; }

        /// <summary>The base of the rotary angles: pair <c>i</c> turns by <c>position · RotaryBase^(−2i/headDim)</c>. Default: 10000.</summary>
        public double RotaryBase { get; set; } = 10000;

        /// <summary>
        /// Adds decoding with a key/value cache: <c>CreateCache(batch)</c> and <c>Forward(input, output, cache, tokens)</c>,
        /// which projects only the new tokens and attends over the cached ones. <c>seqLen</c> is then the cache's
        /// capacity. Needs causal self-attention with projections. Default: <c>false</c>.
        /// </summary>
        public bool KvCache { get; set; }
    }
}
