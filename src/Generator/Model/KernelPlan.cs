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
        EquatableArray<ParameterSlot> Parameters,
        int ParameterCount,
        LinearShape? QueryProjection,
        LinearShape? KvProjection,
        LinearShape? OutputProjection,
        bool HasSelfAttention)
    {
        /// <summary>
        /// The forward scratch of one sequence on one worker: projected q, k, v and the attention output (with
        /// projections), then the attention core's key and value packs and tiles, sized for the largest path.
        /// </summary>
        public BufferLayout Scratch { get; init; } = null!;

        /// <summary>The state ForwardTrain keeps per sequence after its scratch: row log-sum-exp, inputs, output.</summary>
        public BufferLayout Saved { get; init; } = null!;

        /// <summary>The backward work area of one worker: gradients of the attention output, q, k, v and the key/value inputs, then the attention tiles.</summary>
        public BufferLayout Work { get; init; } = null!;

        /// <summary>The attention tiling of every path, widest first and the scalar one last (as <see cref="IsaProfile.All"/>).</summary>
        public EquatableArray<Planning.VectorTiling> Tilings { get; init; }

        /// <summary>The tiling of one path.</summary>
        public Planning.VectorTiling Tiling(IsaProfile isa)
        {
            foreach (Planning.VectorTiling t in Tilings)
            {
                if (t.Isa == isa.EnumName)
                {
                    return t;
                }
            }
            throw new System.ArgumentException($"No tiling for {isa.EnumName}.", nameof(isa));
        }

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
