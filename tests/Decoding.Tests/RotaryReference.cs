namespace AttnGen.Decoding.Tests;

/// <summary>
/// A rotary self-attention layer in float64, written from the definitions and sharing nothing with the generator or
/// the runtime: q/k/v projections with bias (PyTorch <c>in_proj_weight</c> rows q, then k, then v), rotate-half RoPE
/// with the angles computed here from <c>θ_i = base^(−2i/D)</c>, softmax attention (causal, padded keys, GQA), and the
/// output projection.
/// </summary>
internal static class RotaryReference
{
    /// <summary>
    /// Output <c>[batch, SeqLen, ModelDim]</c>. Row r of a sequence sits at position <c>positionOffset + r</c>;
    /// <paramref name="rotate"/> false leaves q and k as projected (the same layer without rotary positions).
    /// </summary>
    public static double[] Forward(AttentionLayerInfo info, IReadOnlyList<LayerParameter> parameters, double[] block,
        double[] query, double[] key, double[] value, int batch, int[]? validLengths, int positionOffset = 0, bool rotate = true)
    {
        int s = info.SeqLen, m = info.ModelDim, d = info.HeadDim;
        int qw = info.Heads * d, kvw = info.KvHeads * d;
        double[] wIn = Parameter(parameters, block, "in_proj_weight")!, wOut = Parameter(parameters, block, "out_proj.weight")!;
        double[]? bIn = Parameter(parameters, block, "in_proj_bias"), bOut = Parameter(parameters, block, "out_proj.bias");
        var output = new double[batch * s * m];
        for (int b = 0; b < batch; b++)
        {
            double[] q = Linear(query, b * s * m, s, m, wIn, 0, qw, bIn);
            double[] k = Linear(key, b * s * m, s, m, wIn, qw, kvw, bIn);
            double[] v = Linear(value, b * s * m, s, m, wIn, qw + kvw, kvw, bIn);
            if (rotate)
            {
                RotateHalf(q, s, info.Heads, d, positionOffset, info.RotaryBase);
                RotateHalf(k, s, info.KvHeads, d, positionOffset, info.RotaryBase);
            }
            double[] context = Attention(info, q, k, v, validLengths is null ? s : validLengths[b]);
            double[] y = Linear(context, 0, s, qw, wOut, 0, m, bOut);
            Array.Copy(y, 0, output, b * s * m, s * m);
        }
        return output;
    }

    /// <summary>x'[i] = x[i]·cos(pθ_i) − x[i+D/2]·sin(pθ_i), x'[i+D/2] = x[i+D/2]·cos(pθ_i) + x[i]·sin(pθ_i), per head.</summary>
    public static void RotateHalf(double[] x, int rows, int heads, int d, int positionOffset, double rotaryBase)
    {
        int half = d / 2;
        for (int r = 0; r < rows; r++)
        {
            double position = positionOffset + r;
            for (int h = 0; h < heads; h++)
            {
                int at = (r * heads + h) * d;
                for (int i = 0; i < half; i++)
                {
                    double angle = position * Math.Pow(rotaryBase, -2.0 * i / d);
                    double a = x[at + i], c = x[at + i + half];
                    x[at + i] = a * Math.Cos(angle) - c * Math.Sin(angle);
                    x[at + i + half] = c * Math.Cos(angle) + a * Math.Sin(angle);
                }
            }
        }
    }

    private static double[] Attention(AttentionLayerInfo info, double[] q, double[] k, double[] v, int valid)
    {
        int s = info.SeqLen, d = info.HeadDim, qw = info.Heads * d, kvw = info.KvHeads * d;
        var context = new double[s * qw];
        for (int head = 0; head < info.Heads; head++)
        {
            int kvHead = head / (info.Heads / info.KvHeads);
            for (int i = 0; i < s; i++)
            {
                int visible = Math.Min(valid, info.Causal ? i + 1 : s);
                if (visible <= 0)
                {
                    continue; // no key to attend to: the context row stays zero
                }
                var p = new double[visible];
                double max = double.NegativeInfinity;
                for (int j = 0; j < visible; j++)
                {
                    double score = 0;
                    for (int c = 0; c < d; c++)
                    {
                        score += q[i * qw + head * d + c] * k[j * kvw + kvHead * d + c];
                    }
                    p[j] = info.Scoring == AttentionScoring.ScaledDotProduct ? score / Math.Sqrt(d) : score;
                    max = Math.Max(max, p[j]);
                }
                double sum = 0;
                for (int j = 0; j < visible; j++)
                {
                    p[j] = Math.Exp(p[j] - max);
                    sum += p[j];
                }
                for (int j = 0; j < visible; j++)
                {
                    for (int c = 0; c < d; c++)
                    {
                        context[i * qw + head * d + c] += p[j] / sum * v[j * kvw + kvHead * d + c];
                    }
                }
            }
        }
        return context;
    }

    private static double[]? Parameter(IReadOnlyList<LayerParameter> parameters, double[] block, string name)
    {
        foreach (LayerParameter p in parameters)
        {
            if (p.Name == name)
            {
                return block.AsSpan(p.Offset, p.Length).ToArray();
            }
        }
        return null;
    }

    /// <summary>y[r, o] = Σ_c x[start + r·width + c] · W[rowOffset + o, c] + bias[rowOffset + o].</summary>
    private static double[] Linear(double[] x, int start, int rows, int width, double[] w, int rowOffset, int outputs, double[]? bias)
    {
        var y = new double[rows * outputs];
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outputs; o++)
            {
                double acc = bias is null ? 0 : bias[rowOffset + o];
                for (int c = 0; c < width; c++)
                {
                    acc += x[start + r * width + c] * w[(rowOffset + o) * width + c];
                }
                y[r * outputs + o] = acc;
            }
        }
        return y;
    }

    public static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i];
        }
        return result;
    }
}
