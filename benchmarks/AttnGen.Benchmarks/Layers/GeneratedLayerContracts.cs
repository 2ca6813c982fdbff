namespace AttnGen.Benchmarks.Layers;

/// <summary>
/// A generated full self-attention layer with projections and biases: <see cref="IAttentionLayer"/> plus
/// the self-attention overload and the named parameter spans the generated class also has.
/// </summary>
public interface IFullLayer : IAttentionLayer
{
    /// <summary>Self-attention over <c>[batch, SeqLen, ModelDim]</c>.</summary>
    void Forward(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths = default);

    /// <summary>Self-attention forward that keeps what the self-attention <c>Backward</c> needs.</summary>
    void ForwardTrain(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths = default);

    /// <summary>Backward of the last self-attention ForwardTrain: dL/dinput written, parameter gradients added.</summary>
    void Backward(ReadOnlySpan<float> outputGrad, Span<float> inputGrad, int batch, ReadOnlySpan<int> validLengths = default);

    /// <summary><c>in_proj_weight</c> [3 * H * D, ModelDim].</summary>
    Span<float> InProjWeight { get; }

    /// <summary><c>in_proj_bias</c> [3 * H * D].</summary>
    Span<float> InProjBias { get; }

    /// <summary><c>out_proj.weight</c> [ModelDim, H * D].</summary>
    Span<float> OutProjWeight { get; }

    /// <summary><c>out_proj.bias</c> [ModelDim].</summary>
    Span<float> OutProjBias { get; }
}
