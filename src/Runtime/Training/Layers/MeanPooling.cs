using System.Numerics.Tensors;

namespace AttnGen.Training;

/// <summary>
/// Averages each sequence of a batch <c>[batch, SeqLen, Dim]</c> over its valid positions into
/// <c>[batch, Dim]</c>. Positions at or past a sequence's valid length are ignored (and get zero gradient);
/// a sequence with no valid position pools to zeros. No parameters.
/// </summary>
public sealed class MeanPooling
{
    /// <summary>A pooling over sequences of <paramref name="seqLen"/> rows of <paramref name="dim"/> floats.</summary>
    public MeanPooling(int seqLen, int dim)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seqLen);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        SeqLen = seqLen;
        Dim = dim;
    }

    /// <summary>Rows per sequence.</summary>
    public int SeqLen { get; }

    /// <summary>Width of a row.</summary>
    public int Dim { get; }

    /// <summary><paramref name="output"/>[b] = mean of <paramref name="input"/>[b, 0 .. valid(b)).</summary>
    /// <param name="input"><c>[batch, SeqLen, Dim]</c>.</param>
    /// <param name="output"><c>[batch, Dim]</c>.</param>
    /// <param name="batch">Number of sequences.</param>
    /// <param name="validLengths">Empty (every position is valid) or one length in 0..SeqLen per sequence.</param>
    public void Forward(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths = default)
    {
        Check(input.Length, output.Length, batch, validLengths);
        for (int b = 0; b < batch; b++)
        {
            int valid = validLengths.IsEmpty ? SeqLen : validLengths[b];
            Span<float> y = output.Slice(b * Dim, Dim);
            y.Clear();
            ReadOnlySpan<float> sequence = input.Slice(b * SeqLen * Dim, SeqLen * Dim);
            for (int t = 0; t < valid; t++)
            {
                TensorPrimitives.Add(y, sequence.Slice(t * Dim, Dim), y);
            }
            if (valid > 0)
            {
                TensorPrimitives.Multiply(y, 1f / valid, y);
            }
        }
    }

    /// <summary>Writes <paramref name="inputGrad"/>[b, t] = <paramref name="outputGrad"/>[b] / valid(b) for valid t, zero elsewhere.</summary>
    public void Backward(ReadOnlySpan<float> outputGrad, Span<float> inputGrad, int batch, ReadOnlySpan<int> validLengths = default)
    {
        Check(inputGrad.Length, outputGrad.Length, batch, validLengths);
        for (int b = 0; b < batch; b++)
        {
            int valid = validLengths.IsEmpty ? SeqLen : validLengths[b];
            ReadOnlySpan<float> dy = outputGrad.Slice(b * Dim, Dim);
            Span<float> sequence = inputGrad.Slice(b * SeqLen * Dim, SeqLen * Dim);
            float scale = valid > 0 ? 1f / valid : 0f;
            for (int t = 0; t < valid; t++)
            {
                TensorPrimitives.Multiply(dy, scale, sequence.Slice(t * Dim, Dim));
            }
            sequence.Slice(valid * Dim).Clear();
        }
    }

    private void Check(int sequenceLength, int pooledLength, int batch, ReadOnlySpan<int> validLengths)
    {
        Guard.Batch(batch, (long)SeqLen * Dim);
        Guard.Length(sequenceLength, batch, SeqLen, Dim, "input");
        Guard.Length(pooledLength, batch, 1, Dim, "output");
        Guard.ValidLengths(validLengths, batch, SeqLen, nameof(validLengths));
    }
}
