using AttnGen;

namespace TextClassification.Model;

/// <summary>
/// The members of an attention layer that <see cref="SequenceClassifier"/> trains through: a generated
/// layer's <c>Forward</c> and parameter block, plus the training members the generator adds with its
/// backward kernels (<c>ForwardTrain</c>, <c>Backward</c>, <c>GradientBlock</c>, <c>ZeroGradients</c>).
/// Once a generated layer has them, declaring <c>partial class MyLayer : ITrainableAttention;</c> is all
/// the glue it needs.
/// </summary>
internal interface ITrainableAttention : IDisposable
{
    /// <summary>All parameters, laid out as the generated layer's <c>ParameterList</c> says.</summary>
    Span<float> ParameterBlock { get; }

    /// <summary>Gradients, parallel to <see cref="ParameterBlock"/>.</summary>
    Span<float> GradientBlock { get; }

    /// <summary>Sets <see cref="GradientBlock"/> to zero.</summary>
    void ZeroGradients();

    /// <summary>Inference: self-attention over <c>[batch, SeqLen, ModelDim]</c>, nothing saved.</summary>
    void Forward(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths);

    /// <summary>As <see cref="Forward"/>, and keeps what <see cref="Backward"/> needs.</summary>
    void ForwardTrain(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths);

    /// <summary>
    /// Given the gradient of the last <see cref="ForwardTrain"/> output, writes the input gradient and adds
    /// the parameter gradients into <see cref="GradientBlock"/>.
    /// </summary>
    void Backward(ReadOnlySpan<float> outputGrad, Span<float> inputGrad, int batch, ReadOnlySpan<int> validLengths);
}
