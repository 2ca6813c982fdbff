using System.ComponentModel;

namespace AttnGen;

/// <summary>
/// What the generator emits for one declared layer and the runtime core calls: the resolved declaration, the
/// parameter list, the buffer layout its planner computed, and the per-sequence kernels with one path per
/// instruction set. The generated layer carries a nested <c>struct</c> that implements it; because the core
/// (<see cref="AttentionLayer{TKernels}"/>) takes that struct as a type argument, the JIT compiles the core once
/// per layer with every call below bound directly and every <c>IsSupported</c> check in the dispatch folded.
/// </summary>
/// <remarks>Not meant to be implemented by hand: the generator writes the only implementations.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public unsafe interface IAttentionKernels
{
    /// <summary>The declaration, resolved (defaults filled in).</summary>
    static abstract AttentionLayerInfo Info { get; }

    /// <summary>The parameters in PyTorch state-dict order, with their places in the parameter block.</summary>
    static abstract IReadOnlyList<LayerParameter> Parameters { get; }

    /// <summary>Sizes and offsets of every buffer the kernels use.</summary>
    static abstract LayerBufferLayout Layout { get; }

    /// <summary>
    /// The cos/sin table of a layer declared with <c>Rotary = true</c> (positions 0 .. SeqLen − 1), built once per layer
    /// type; null otherwise.
    /// </summary>
    static virtual RotaryTable? Rotary => null;

    /// <summary>Whether the kernels of <paramref name="isa"/> were generated (see <c>AttnGenInstructionSets</c>); scalar always is.</summary>
    static abstract bool HasKernels(KernelIsa isa);

    /// <summary>Packs the projection weights into the panels the kernels of the path <paramref name="isa"/> read.</summary>
    static abstract void PackWeights(KernelIsa isa, float* parameters, float* packed);

    /// <summary>
    /// One sequence forward on the widest generated path not above <paramref name="isa"/>: projections, attention
    /// core, output projection. <paramref name="scratch"/> holds <see cref="LayerBufferLayout.ScratchLength"/> floats;
    /// <paramref name="lse"/> receives each row's log-sum-exp when it is not null (training). When several workers
    /// share the sequence, each calls this with the same arguments but its own <paramref name="split"/> part and its
    /// own <paramref name="tiles"/> (a scratch of the same length, for its attention tiles; <paramref name="scratch"/>
    /// is the first worker's, holding the shared q, k, v and context), does its share of every phase and meets the
    /// others between phases (<see cref="SequenceSplit.Sync"/>); the result is bit-identical to one worker's.
    /// </summary>
    static abstract void ForwardSequence(KernelIsa isa, float* query, float* key, float* value, float* output, int validLength,
        float* parameters, float* packed, float* scratch, float* lse, float* tiles, SequenceSplit split);

    /// <summary>
    /// One sequence backward from the state <c>ForwardSequence</c> left in <paramref name="saved"/>: writes the input
    /// gradients, adds the parameter gradients to <paramref name="gradients"/>, and returns the path it ran on.
    /// <paramref name="work"/> holds <see cref="LayerBufferLayout.WorkLength"/> floats. When several workers share the
    /// sequence, each calls this with the same arguments (the first worker's <paramref name="work"/>, holding the shared
    /// gradients of the context, q, k and v, and one gradient block) but its own <paramref name="split"/> part and its
    /// own <paramref name="tiles"/> (a work area of the same length, for its attention tiles); every phase (the
    /// projections' column blocks, the key/value heads of the attention core, the rotary rows) gives each worker
    /// disjoint elements, the workers meet between phases, and the result is bit-identical to one worker's.
    /// </summary>
    static abstract KernelIsa BackwardSequence(KernelIsa isa, float* saved, float* outputGrad, float* queryGrad, float* keyGrad,
        float* valueGrad, float* parameters, float* gradients, float* work, int validLength, float* tiles, SequenceSplit split);

    /// <summary>
    /// The input projections of a decoding step (layers declared with <c>KvCache = true</c>): for each of
    /// <paramref name="rows"/> input rows <c>[rows, ModelDim]</c> (1 .. SeqLen), writes <c>q | k | v</c> into
    /// <paramref name="qkv"/>, rows <c>(Heads + 2 · KvHeads) · HeadDim</c> floats apart, on the widest generated path not
    /// above <paramref name="isa"/>, from the weights <see cref="PackWeights"/> packed for that path into <paramref name="packed"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">The layer was not declared with <c>KvCache = true</c>.</exception>
    static virtual void ProjectRows(KernelIsa isa, float* input, int rows, float* packed, float* qkv)
        => throw NoDecodingKernels();

    /// <summary>
    /// The output projection of a decoding step: <paramref name="rows"/> context rows <c>[rows, Heads · HeadDim]</c> into
    /// output rows <c>[rows, ModelDim]</c>, from the packed weights as <see cref="ProjectRows"/>.
    /// </summary>
    /// <exception cref="NotSupportedException">The layer was not declared with <c>KvCache = true</c>.</exception>
    static virtual void OutputRows(KernelIsa isa, float* context, int rows, float* packed, float* output)
        => throw NoDecodingKernels();

    private static NotSupportedException NoDecodingKernels()
        => new("This layer has no decoding kernels: declare it with KvCache = true (causal self-attention with projections) to decode with a key/value cache.");
}

/// <summary>
/// Sizes and offsets, in floats, of the buffers of one layer, from the generator's planner. Every region starts
/// on a 64-byte boundary.
/// </summary>
/// <param name="ParameterCount">The parameter block (and the gradient block).</param>
/// <param name="PackedLength">Packed projection weights, the largest any generated path needs.</param>
/// <param name="ScratchLength">Forward scratch of one sequence on one worker.</param>
/// <param name="SavedLength">State ForwardTrain keeps per sequence: the forward scratch, then the regions below.</param>
/// <param name="SavedLse">Offset of the rows' log-sum-exp in a sequence's saved state.</param>
/// <param name="SavedQuery">Offset of the copied query input.</param>
/// <param name="SavedKey">Offset of the copied key input.</param>
/// <param name="SavedValue">Offset of the copied value input.</param>
/// <param name="SavedOutput">Offset of the copied output.</param>
/// <param name="WorkLength">Backward work area of one worker.</param>
/// <param name="WorkKeyInput">Offset in the work area where a self-attention backward puts the key input's gradient.</param>
/// <param name="WorkValueInput">Offset in the work area where a self-attention backward puts the value input's gradient.</param>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed record LayerBufferLayout(
    int ParameterCount,
    int PackedLength,
    int ScratchLength,
    int SavedLength,
    int SavedLse,
    int SavedQuery,
    int SavedKey,
    int SavedValue,
    int SavedOutput,
    int WorkLength,
    int WorkKeyInput,
    int WorkValueInput);
