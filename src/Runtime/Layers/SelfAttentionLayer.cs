namespace AttnGen;

/// <summary>
/// A layer whose query, key and value inputs can be one sequence (the same length and width): the core of
/// <see cref="AttentionLayer{TKernels}"/> plus the overloads that take one input. Generated layers with
/// <c>KvSeqLen == SeqLen</c> and equal input widths derive from it.
/// </summary>
/// <typeparam name="TKernels">The layer's generated kernel table.</typeparam>
public abstract class SelfAttentionLayer<TKernels> : AttentionLayer<TKernels>, ISelfAttentionLayer
    where TKernels : struct, IAttentionKernels
{
    /// <summary>Self-attention over one sequence: <paramref name="input"/> and <paramref name="output"/> are [SeqLen, ModelDim].</summary>
    /// <param name="input">The input rows.</param>
    /// <param name="output">Receives the output rows.</param>
    /// <exception cref="ArgumentException">A span has the wrong length; nothing is written.</exception>
    public void Forward(ReadOnlySpan<float> input, Span<float> output) => ForwardSelf(input, output, 1, default);

    /// <summary>Self-attention over a batch: <paramref name="input"/> and <paramref name="output"/> are [batch, SeqLen, ModelDim], row-major.</summary>
    /// <param name="input">The input rows, [batch, SeqLen, ModelDim].</param>
    /// <param name="output">Receives the output rows, [batch, SeqLen, ModelDim].</param>
    /// <param name="batch">Number of sequences, at least 1.</param>
    /// <param name="validLengths">Empty, or per batch item the number of valid key/value positions (0..KvSeqLen); keys past it are masked, as PyTorch's key_padding_mask. A query row that sees no key gets a zero attention output.</param>
    /// <exception cref="ArgumentException">A span has the wrong length, <paramref name="batch"/> is below 1, a valid length is out of range, or <paramref name="output"/> overlaps <paramref name="input"/> without being the same span (in place is allowed); nothing is written.</exception>
    /// <exception cref="InvalidOperationException">Another call on this instance is running (a layer instance runs one call at a time).</exception>
    public void Forward(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths = default)
        => ForwardSelf(input, output, batch, validLengths);

    /// <summary>Self-attention forward that keeps what the one-input <c>Backward</c> needs; same result as Forward.</summary>
    /// <param name="input">[batch, SeqLen, ModelDim].</param>
    /// <param name="output">[batch, SeqLen, ModelDim].</param>
    /// <param name="batch">Number of sequences.</param>
    /// <param name="validLengths">Empty, or per sequence the number of valid key positions.</param>
    /// <exception cref="ArgumentException">A span has the wrong length or <paramref name="output"/> overlaps <paramref name="input"/> (ForwardTrain keeps the input for Backward, so it cannot run in place); nothing is written.</exception>
    public void ForwardTrain(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths = default)
    {
        Guard.Disjoint(output, nameof(output), input, nameof(input));
        ForwardTrain(input, input, input, output, batch, validLengths);
    }

    /// <summary>
    /// Backward of the last self-attention ForwardTrain: <paramref name="inputGrad"/> receives dL/dinput (the sum over
    /// its q, k and v uses); parameter gradients are added to <see cref="AttentionLayer{TKernels}.GradientBlock"/>.
    /// </summary>
    /// <param name="outputGrad">dL/doutput, [batch, SeqLen, ModelDim].</param>
    /// <param name="inputGrad">Overwritten with dL/dinput, [batch, SeqLen, ModelDim].</param>
    /// <param name="batch">The batch of the last ForwardTrain.</param>
    /// <param name="validLengths">The valid lengths of the last ForwardTrain.</param>
    public void Backward(ReadOnlySpan<float> outputGrad, Span<float> inputGrad, int batch, ReadOnlySpan<int> validLengths = default)
        => BackwardSelf(outputGrad, inputGrad, batch, validLengths);
}
