namespace AttnGen.Benchmarks.Layers;

/// <summary>What every generated layer the benchmarks declare offers (the generated members implement it).</summary>
public interface IGeneratedLayer : IDisposable
{
#if ATTNGEN_KERNEL_KNOBS
    /// <summary>The instruction-set path the layer's kernels run.</summary>
    KernelIsa Isa { get; set; }

    /// <summary>Threads a Forward call may use.</summary>
    int MaxDegreeOfParallelism { get; set; }
#endif
}

/// <summary>A generated bare attention core (<c>Projections = false</c>).</summary>
public interface ICoreLayer : IGeneratedLayer
{
    /// <summary>Attention over token-major q, k, v <c>[batch, SeqLen, Heads * HeadDim]</c>.</summary>
    void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, int batch, ReadOnlySpan<int> validLengths = default);
}

/// <summary>A generated full self-attention layer with projections and biases.</summary>
public interface IFullLayer : IGeneratedLayer
{
    /// <summary>Self-attention over <c>[batch, SeqLen, ModelDim]</c>.</summary>
    void Forward(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths = default);

    /// <summary>Seeded PyTorch-style initialisation.</summary>
    void ResetParameters(ulong seed);

    /// <summary><c>in_proj_weight</c> [3 * H * D, ModelDim].</summary>
    Span<float> InProjWeight { get; }

    /// <summary><c>in_proj_bias</c> [3 * H * D].</summary>
    Span<float> InProjBias { get; }

    /// <summary><c>out_proj.weight</c> [ModelDim, H * D].</summary>
    Span<float> OutProjWeight { get; }

    /// <summary><c>out_proj.bias</c> [ModelDim].</summary>
    Span<float> OutProjBias { get; }
}
