namespace AttnGen.Decoding.Tests;

/// <summary>
/// A float64 causal self-attention with rotary positions, written from the formulas alone: projections with
/// biases, the rotate-half rotation at each row's absolute position (θ_i = base^(−2i/D)), grouped-query causal
/// softmax attention and the output projection.
/// </summary>
internal static class RotaryReference
{
    public static double[] Forward(IAttentionLayer layer, float[] x, int batch)
    {
        AttentionLayerInfo info = layer.Info;
        int h = info.Heads, kvh = info.KvHeads, d = info.HeadDim, s = info.SeqLen, m = info.ModelDim, groups = h / kvh;
        float[] w = layer.GetParameter("in_proj_weight").ToArray(), bias = layer.GetParameter("in_proj_bias").ToArray();
        float[] wo = layer.GetParameter("out_proj.weight").ToArray(), bo = layer.GetParameter("out_proj.bias").ToArray();
        int width = (h + 2 * kvh) * d;
        var output = new double[batch * s * m];
        for (int b = 0; b < batch; b++)
        {
            // qkv[p][c] = x[p] · W[c] + bias[c]; c < h·d are the queries, then the keys, then the values.
            var qkv = new double[s, width];
            for (int p = 0; p < s; p++)
            {
                for (int c = 0; c < width; c++)
                {
                    double acc = bias[c];
                    for (int e = 0; e < m; e++)
                    {
                        acc += (double)x[(b * s + p) * m + e] * w[c * m + e];
                    }
                    qkv[p, c] = acc;
                }
                for (int head = 0; head < h + kvh; head++)
                {
                    Rotate(qkv, p, head * d, d, p, info.RotaryBase);
                }
            }
            var context = new double[s, h * d];
            for (int p = 0; p < s; p++)
            {
                for (int head = 0; head < h; head++)
                {
                    int k0 = h * d + head / groups * d, v0 = (h + kvh) * d + head / groups * d;
                    var scores = new double[p + 1];
                    double top = double.NegativeInfinity;
                    for (int j = 0; j <= p; j++)
                    {
                        double dot = 0;
                        for (int e = 0; e < d; e++)
                        {
                            dot += qkv[p, head * d + e] * qkv[j, k0 + e];
                        }
                        scores[j] = dot / Math.Sqrt(d);
                        top = Math.Max(top, scores[j]);
                    }
                    double total = 0;
                    for (int j = 0; j <= p; j++)
                    {
                        scores[j] = Math.Exp(scores[j] - top);
                        total += scores[j];
                    }
                    for (int e = 0; e < d; e++)
                    {
                        double acc = 0;
                        for (int j = 0; j <= p; j++)
                        {
                            acc += scores[j] * qkv[j, v0 + e];
                        }
                        context[p, head * d + e] = acc / total;
                    }
                }
                for (int o = 0; o < m; o++)
                {
                    double acc = bo[o];
                    for (int c = 0; c < h * d; c++)
                    {
                        acc += context[p, c] * wo[o * h * d + c];
                    }
                    output[(b * s + p) * m + o] = acc;
                }
            }
        }
        return output;
    }

    // x'[i] = x[i]·cos(pθ_i) − x[i+D/2]·sin(pθ_i), x'[i+D/2] = x[i+D/2]·cos(pθ_i) + x[i]·sin(pθ_i).
    private static void Rotate(double[,] rows, int row, int start, int d, int position, double rotaryBase)
    {
        for (int i = 0; i < d / 2; i++)
        {
            double angle = position * Math.Pow(rotaryBase, -2.0 * i / d);
            double a = rows[row, start + i], b = rows[row, start + i + d / 2];
            rows[row, start + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
            rows[row, start + i + d / 2] = b * Math.Cos(angle) + a * Math.Sin(angle);
        }
    }
}
