namespace AttnGen.Benchmarks.Contenders;

/// <summary>
/// The textbook loops: per head and query row, every score q·k, a max-subtracted softmax, then the
/// weighted sum of value rows. Scalar float arithmetic, no blocking. The reference every other
/// contender is checked against.
/// </summary>
public sealed class NaiveAttention(AttentionShape shape)
{
    private readonly float[] _scores = new float[shape.SeqLen];

    /// <summary>The shape this instance computes.</summary>
    public AttentionShape Shape => shape;

    /// <summary>Attention over token-major <c>[batch, SeqLen, Heads * HeadDim]</c> q, k, v.</summary>
    public void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output, int batch)
    {
        int width = shape.Width, d = shape.HeadDim;
        float scale = shape.Scale;
        float[] scores = _scores;
        for (int b = 0; b < batch; b++)
        {
            int sequence = b * shape.SequenceLength;
            for (int h = 0; h < shape.Heads; h++)
            {
                for (int i = 0; i < shape.SeqLen; i++)
                {
                    int qi = sequence + i * width + h * d;
                    int keys = shape.VisibleKeys(i);
                    float max = float.NegativeInfinity;
                    for (int j = 0; j < keys; j++)
                    {
                        int kj = sequence + j * width + h * d;
                        float dot = 0f;
                        for (int e = 0; e < d; e++)
                        {
                            dot += query[qi + e] * key[kj + e];
                        }
                        scores[j] = dot * scale;
                        max = Math.Max(max, scores[j]);
                    }
                    float sum = 0f;
                    for (int j = 0; j < keys; j++)
                    {
                        scores[j] = MathF.Exp(scores[j] - max);
                        sum += scores[j];
                    }
                    for (int e = 0; e < d; e++)
                    {
                        float acc = 0f;
                        for (int j = 0; j < keys; j++)
                        {
                            acc += scores[j] * value[sequence + j * width + h * d + e];
                        }
                        output[qi + e] = acc / sum;
                    }
                }
            }
        }
    }
}
