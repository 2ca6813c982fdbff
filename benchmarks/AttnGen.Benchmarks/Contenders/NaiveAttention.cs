namespace AttnGen.Benchmarks.Contenders;

/// <summary>
/// The textbook loops: per head and query row, every score q·k, a max-subtracted softmax, then the
/// weighted sum of value rows. Scalar float arithmetic, no blocking. The reference every other
/// contender is checked against (and, for backward, the chain rule through the same loops in double).
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

    /// <summary>
    /// Gradients of <see cref="Forward"/> for the output gradient <paramref name="outputGrad"/>, by the chain rule
    /// through the full probability row, in double: the reference the backward contenders are checked against.
    /// </summary>
    public void Backward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, ReadOnlySpan<float> outputGrad,
        Span<float> queryGrad, Span<float> keyGrad, Span<float> valueGrad, int batch)
    {
        int width = shape.Width, d = shape.HeadDim, n = batch * shape.SequenceLength;
        double scale = shape.Scale;
        var dq = new double[n];
        var dk = new double[n];
        var dv = new double[n];
        var p = new double[shape.SeqLen];
        var dp = new double[shape.SeqLen];
        for (int b = 0; b < batch; b++)
        {
            int sequence = b * shape.SequenceLength;
            for (int h = 0; h < shape.Heads; h++)
            {
                for (int i = 0; i < shape.SeqLen; i++)
                {
                    int qi = sequence + i * width + h * d;
                    int keys = shape.VisibleKeys(i);
                    double max = double.NegativeInfinity, sum = 0, delta = 0;
                    for (int j = 0; j < keys; j++)
                    {
                        int kj = sequence + j * width + h * d;
                        double dot = 0, dotV = 0;
                        for (int e = 0; e < d; e++)
                        {
                            dot += (double)query[qi + e] * key[kj + e];
                            dotV += (double)outputGrad[qi + e] * value[kj + e];
                        }
                        p[j] = dot * scale;
                        dp[j] = dotV;
                        max = Math.Max(max, p[j]);
                    }
                    for (int j = 0; j < keys; j++)
                    {
                        p[j] = Math.Exp(p[j] - max);
                        sum += p[j];
                    }
                    for (int j = 0; j < keys; j++)
                    {
                        p[j] /= sum;
                        delta += p[j] * dp[j];
                    }
                    for (int j = 0; j < keys; j++)
                    {
                        int kj = sequence + j * width + h * d;
                        double ds = p[j] * (dp[j] - delta) * scale;
                        for (int e = 0; e < d; e++)
                        {
                            dv[kj + e] += p[j] * outputGrad[qi + e];
                            dq[qi + e] += ds * key[kj + e];
                            dk[kj + e] += ds * query[qi + e];
                        }
                    }
                }
            }
        }
        for (int i = 0; i < n; i++)
        {
            queryGrad[i] = (float)dq[i];
            keyGrad[i] = (float)dk[i];
            valueGrad[i] = (float)dv[i];
        }
    }
}
