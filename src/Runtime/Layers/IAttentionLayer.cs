namespace AttnGen;

/// <summary>
/// What every generated attention layer offers, for code that handles layers of different shapes alike
/// (tests, benchmarks, trainers). The generated class has the same members with its shapes as constants.
/// </summary>
public interface IAttentionLayer : IDisposable
{
    /// <summary>The declared shape and options.</summary>
    AttentionLayerInfo Info { get; }

    /// <summary>Names, shapes and offsets of the parameters, in PyTorch state-dict order.</summary>
    IReadOnlyList<LayerParameter> Parameters { get; }

    /// <summary>All parameters as one span. Writing through it is how weights change (see <see cref="ParametersChanged"/>).</summary>
    Span<float> ParameterBlock { get; }

    /// <summary>The instruction-set path Forward and Backward run on; defaults to <see cref="KernelIsaSupport.Best"/>.</summary>
    /// <exception cref="NotSupportedException">Set to a path this process cannot run.</exception>
    KernelIsa Isa { get; set; }

    /// <summary>Most threads one Forward call uses (1 = the calling thread only).</summary>
    int MaxDegreeOfParallelism { get; set; }

    /// <summary>Initialises every parameter from a seed, as PyTorch initialises nn.MultiheadAttention.</summary>
    void ResetParameters(ulong seed);

    /// <summary>
    /// Tells the layer that parameters were written through a span kept from earlier, so weights packed
    /// for the kernels are rebuilt before the next Forward. Spans obtained after the last Forward need no call.
    /// </summary>
    void ParametersChanged();

    /// <summary>Loads parameters from a safetensors file with PyTorch names under <paramref name="prefix"/>; on any error nothing changes.</summary>
    void Load(string path, string prefix = "");

    /// <summary>Saves parameters as safetensors with PyTorch names, atomically.</summary>
    void Save(string path, string prefix = "", IReadOnlyDictionary<string, string>? metadata = null);

    /// <summary>Parameter gradients, laid out like <see cref="ParameterBlock"/>; Backward adds to them.</summary>
    Span<float> GradientBlock { get; }

    /// <summary>Sets every parameter gradient to zero.</summary>
    void ZeroGradients();

    /// <summary>Forward that keeps per-sequence state (inputs, projected q/k/v, attention output, row log-sum-exp) for <see cref="Backward"/>.</summary>
    void ForwardTrain(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, int batch, ReadOnlySpan<int> validLengths = default);

    /// <summary>Backward of the last ForwardTrain: writes the input gradients, adds the parameter gradients to <see cref="GradientBlock"/>.</summary>
    void Backward(ReadOnlySpan<float> outputGrad, Span<float> queryGrad, Span<float> keyGrad, Span<float> valueGrad, int batch, ReadOnlySpan<int> validLengths = default);

    /// <summary>Attention of query [batch, SeqLen, QueryInputWidth] over key and value [batch, KvSeqLen, KvInputWidth] into output [batch, SeqLen, ModelDim].</summary>
    void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, int batch, ReadOnlySpan<int> validLengths = default);

    /// <summary>A parameter by its PyTorch name (for example <c>out_proj.weight</c>).</summary>
    /// <exception cref="ArgumentException">The layer has no parameter of that name.</exception>
    Span<float> GetParameter(string name);
}

/// <summary>
/// A layer whose one input can feed queries, keys and values (self-attention: <c>KvSeqLen == SeqLen</c> and equal
/// input widths), with the one-input overloads.
/// </summary>
public interface ISelfAttentionLayer : IAttentionLayer
{
    /// <summary>Self-attention over a batch: input and output are [batch, SeqLen, ModelDim].</summary>
    void Forward(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths = default);

    /// <summary>Self-attention forward that keeps the state the one-input Backward needs.</summary>
    void ForwardTrain(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths = default);

    /// <summary>Backward of the last self-attention ForwardTrain: writes dL/dinput, adds the parameter gradients.</summary>
    void Backward(ReadOnlySpan<float> outputGrad, Span<float> inputGrad, int batch, ReadOnlySpan<int> validLengths = default);
}

/// <summary>The declaration of a generated layer, resolved (defaults filled in).</summary>
/// <param name="Name">Full type name.</param>
/// <param name="Heads">Query heads.</param>
/// <param name="HeadDim">Width of one head.</param>
/// <param name="SeqLen">Query sequence length.</param>
/// <param name="KvHeads">Key/value heads.</param>
/// <param name="KvSeqLen">Key/value sequence length.</param>
/// <param name="ModelDim">Width of input and output rows.</param>
/// <param name="QueryInputWidth">Width of a query input row (ModelDim with projections, Heads * HeadDim without).</param>
/// <param name="KvInputWidth">Width of a key/value input row (ModelDim with projections, KvHeads * HeadDim without).</param>
/// <param name="Scoring">Scoring function.</param>
/// <param name="Causal">Bottom-right aligned causal mask.</param>
/// <param name="Bias">Projection biases present.</param>
/// <param name="Projections">Input and output projections present.</param>
/// <param name="Scale">Factor applied to scores before the softmax (1 unless scaled dot-product).</param>
public sealed record AttentionLayerInfo(
    string Name,
    int Heads,
    int HeadDim,
    int SeqLen,
    int KvHeads,
    int KvSeqLen,
    int ModelDim,
    int QueryInputWidth,
    int KvInputWidth,
    AttentionScoring Scoring,
    bool Causal,
    bool Bias,
    bool Projections,
    float Scale)
{
    /// <summary>Rotary position embedding on the projected queries and keys (<c>Rotary = true</c>).</summary>
    public bool Rotary { get; init; }

    /// <summary>The base of the rotary angles: pair <c>i</c> of a head turns by <c>position · RotaryBase^(−2i/HeadDim)</c>.</summary>
    public double RotaryBase { get; init; } = 10000;

    /// <summary>Whether the layer decodes with a key/value cache (<c>KvCache = true</c>); <see cref="SeqLen"/> is then the cache's capacity.</summary>
    public bool KvCache { get; init; }
}
