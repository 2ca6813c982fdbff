using System.Numerics.Tensors;

namespace AttnGen.Benchmarks.Contenders;

/// <summary>
/// Attention composed from <see cref="TensorPrimitives"/> calls, as a developer would write it with the
/// BCL's vectorised span operations: per head and query row, <c>Dot</c> for each score, <c>Multiply</c>
/// by the scale, <c>SoftMax</c>, then the weighted sum of value rows with <c>MultiplyAdd</c>.
/// </summary>
public sealed class TensorPrimitivesAttention(AttentionShape shape)
{
    private readonly float[] _scores = new float[shape.SeqLen];
    private readonly float[] _weights = new float[shape.SeqLen];

    /// <summary>Attention over token-major <c>[batch, SeqLen, Heads * HeadDim]</c> q, k, v.</summary>
    public void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, int batch)
    {
        int width = shape.Width, d = shape.HeadDim;
        for (int b = 0; b < batch; b++)
        {
            int sequence = b * shape.SequenceLength;
            for (int h = 0; h < shape.Heads; h++)
            {
                int column = sequence + h * d;
                for (int i = 0; i < shape.SeqLen; i++)
                {
                    int keys = shape.VisibleKeys(i);
                    Span<float> scores = _scores.AsSpan(0, keys);
                    Span<float> weights = _weights.AsSpan(0, keys);
                    ReadOnlySpan<float> qi = query.Slice(column + i * width, d);
                    for (int j = 0; j < keys; j++)
                    {
                        scores[j] = TensorPrimitives.Dot(qi, key.Slice(column + j * width, d));
                    }
                    TensorPrimitives.Multiply(scores, shape.Scale, scores);
                    TensorPrimitives.SoftMax(scores, weights);

                    Span<float> oi = output.Slice(column + i * width, d);
                    oi.Clear();
                    for (int j = 0; j < keys; j++)
                    {
                        TensorPrimitives.MultiplyAdd(value.Slice(column + j * width, d), weights[j], oi, oi);
                    }
                }
            }
        }
    }
}
