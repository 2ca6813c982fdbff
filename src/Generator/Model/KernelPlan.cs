namespace AttnGen.Generator.Model
{
    /// <summary>One parameter of the layer: PyTorch name, generated property, shape and place in the block.</summary>
    internal sealed record ParameterSlot(
        string Name,
        string Property,
        EquatableArray<int> Shape,
        int Offset,
        int Length,
        string Init,
        int FanIn,
        int FanOut,
        string Summary);

    /// <summary>
    /// A projection GEMM <c>Y[M, N] = X[M, K] · W[N, K]ᵀ (+ b)</c> with constant shape; one emitted kernel per
    /// distinct shape.
    /// </summary>
    internal sealed record LinearShape(int M, int N, int K, bool Bias)
    {
        public string KernelName => $"Linear_{M}x{N}x{K}{(Bias ? "_bias" : "")}";

        /// <summary>The kernel that turns dY into dX and accumulates dW (and db).</summary>
        public string BackwardKernelName => $"LinearBackward_{M}x{N}x{K}{(Bias ? "_bias" : "")}";
    }

    /// <summary>
    /// Everything the emitters need, derived from a <see cref="LayerSpec"/>: widths, scale, the parameter and
    /// scratch layout, and the tiling chosen per instruction set.
    /// </summary>
    internal sealed record KernelPlan(
        LayerSpec Spec,
        int QueryWidth,
        int KvWidth,
        int QueryInputWidth,
        int KvInputWidth,
        int GroupSize,
        float Scale,
        string ScaleLiteral,
        int KeyBlock,
        EquatableArray<ParameterSlot> Parameters,
        int ParameterCount,
        int ScratchQueryOffset,
        int ScratchKeyOffset,
        int ScratchValueOffset,
        int ScratchContextOffset,
        int ScratchLength,
        LinearShape? QueryProjection,
        LinearShape? KvProjection,
        LinearShape? OutputProjection,
        bool HasSelfAttention)
    {
        /// <summary>Scratch offset of one key/value head's keys, transposed and padded: [HeadDim, KeyPad].</summary>
        public int ScratchKeyPack { get; init; }

        /// <summary>Scratch offset of one key/value head's values, padded: [KeyPad, HeadDimPad].</summary>
        public int ScratchValuePack { get; init; }

        /// <summary>Scratch offset of the output accumulator tile [Br, HeadDimPad].</summary>
        public int ScratchOutTile { get; init; }

        /// <summary>Scratch offset of the score/probability tile [Br, Bc].</summary>
        public int ScratchProbTile { get; init; }

        /// <summary>
        /// Scratch offset of the query tile [Br, HeadDimPad]: a tile's query rows copied to the stride every score
        /// register tile reads (the forward's and the backward's S = Q·Kᵀ share one kernel).
        /// </summary>
        public int ScratchQueryTile { get; init; }

        /// <summary>Floats of packed projection weights, the largest any path needs.</summary>
        public int PackedLength { get; init; }

        public bool HasScale => Spec.Scoring == ScoringKind.ScaledDotProduct;

        public bool IsAdditive => Spec.Scoring == ScoringKind.Additive;

        /// <summary>Offset of query rows into the key sequence under the bottom-right causal mask.</summary>
        public int CausalOffset => Spec.KvSeqLen - Spec.SeqLen;

        public ParameterSlot? Find(string name)
        {
            foreach (ParameterSlot slot in Parameters)
            {
                if (slot.Name == name)
                {
                    return slot;
                }
            }
            return null;
        }
    }
}
