namespace CharLM.Model;

/// <summary>
/// What <see cref="TransformerBlock"/> needs of a generated causal self-attention layer: the full-sequence
/// forward and its training pair, the parameter and gradient blocks, and the thread count. A generated
/// layer has all of these; <c>partial class MyLayer : ICausalAttention;</c> is the whole glue.
/// </summary>
internal interface ICausalAttention : IDisposable
{
    /// <summary>All parameters, laid out as the generated layer's <c>ParameterList</c> says.</summary>
    Span<float> ParameterBlock { get; }

    /// <summary>Gradients, parallel to <see cref="ParameterBlock"/>.</summary>
    Span<float> GradientBlock { get; }

    /// <summary>Most threads one call spreads its sequences over.</summary>
    int MaxDegreeOfParallelism { get; set; }

    /// <summary>Initialises the parameters from a seed.</summary>
    void ResetParameters(ulong seed);

    /// <summary>Inference over <c>[batch, SeqLen, ModelDim]</c>.</summary>
    void Forward(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths);

    /// <summary>As <see cref="Forward"/>, keeping what <see cref="Backward"/> needs.</summary>
    void ForwardTrain(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths);

    /// <summary>Writes the input gradient of the last <see cref="ForwardTrain"/> and adds the parameter gradients.</summary>
    void Backward(ReadOnlySpan<float> outputGrad, Span<float> inputGrad, int batch, ReadOnlySpan<int> validLengths);
}
