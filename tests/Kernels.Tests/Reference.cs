namespace AttnGen.Kernels.Tests;

/// <summary>
/// Multi-head attention in float64, written directly from the definitions (PyTorch nn.MultiheadAttention
/// semantics, plus GQA, bottom-right causal alignment and additive scoring) with no blocking, no online
/// softmax and nothing shared with the generator. The generated kernels are held to it.
/// </summary>
public static partial class Reference
{
    /// <summary>Output [batch, SeqLen, ModelDim] in double.</summary>
    public static double[] Forward(AttentionLayerInfo info, IReadOnlyList<LayerParameter> parameters, ReadOnlySpan<float> block,
        float[] query, float[] key, float[] value, int batch, int[]? validLengths)
        => Forward(info, parameters, ToDouble(block), ToDouble(query), ToDouble(key), ToDouble(value), batch, validLengths);

    public static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i];
        }
        return result;
    }

    /// <summary>The same in double throughout: parameters and inputs given as double, for finite differences.</summary>
    public static double[] Forward(AttentionLayerInfo info, IReadOnlyList<LayerParameter> parameters, double[] block,
        double[] query, double[] key, double[] value, int batch, int[]? validLengths)
    {
        int s = info.SeqLen, m = info.ModelDim;
        Weights p = Unpack(parameters, block);
        var output = new double[batch * s * m];
        for (int b = 0; b < batch; b++)
        {
            Sequence x = Run(info, p, query, key, value, b, validLengths);
            Array.Copy(x.Output, 0, output, b * s * m, s * m);
        }
        return output;
    }

    /// <summary>The layer's parameters by PyTorch name (null where the layer has none).</summary>
    private sealed record Weights(double[]? InProj, double[]? InBias, double[]? OutProj, double[]? OutBias, double[]? AdditiveV);

    private static Weights Unpack(IReadOnlyList<LayerParameter> parameters, double[] block)
    {
        double[]? wIn = null, bIn = null, wOut = null, bOut = null, additiveV = null;
        foreach (LayerParameter p in parameters)
        {
            double[] values = block.AsSpan(p.Offset, p.Length).ToArray();
            switch (p.Name)
            {
                case "in_proj_weight": wIn = values; break;
                case "in_proj_bias": bIn = values; break;
                case "out_proj.weight": wOut = values; break;
                case "out_proj.bias": bOut = values; break;
                case "additive_v": additiveV = values; break;
                default: throw new InvalidOperationException($"unknown parameter {p.Name}");
            }
        }
        return new Weights(wIn, bIn, wOut, bOut, additiveV);
    }

    /// <summary>
    /// One sequence's forward with everything backward needs: the inputs, the projected q, k, v, the
    /// probabilities <c>P[head][i]</c> (null for a row with no visible key, whose context stays zero), the context
    /// and the output.
    /// </summary>
    private sealed record Sequence(double[] QueryIn, double[] KeyIn, double[] ValueIn, double[] Q, double[] K, double[] V,
        double[]?[][] P, double[] Context, double[] Output);

    private static Sequence Run(AttentionLayerInfo info, Weights w, double[] query, double[] key, double[] value, int b, int[]? validLengths)
    {
        int h = info.Heads, d = info.HeadDim, s = info.SeqLen, skv = info.KvSeqLen, m = info.ModelDim;
        int qw = h * d, kvw = info.KvHeads * d;
        double[] qIn = Slice(query, b, s, info.QueryInputWidth);
        double[] kIn = Slice(key, b, skv, info.KvInputWidth);
        double[] vIn = Slice(value, b, skv, info.KvInputWidth);
        double[] q, k, v;
        if (info.Projections)
        {
            q = Linear(qIn, s, info.QueryInputWidth, w.InProj!, 0, qw, w.InBias);
            k = Linear(kIn, skv, info.KvInputWidth, w.InProj!, qw, kvw, w.InBias);
            v = Linear(vIn, skv, info.KvInputWidth, w.InProj!, qw + kvw, kvw, w.InBias);
        }
        else
        {
            (q, k, v) = (qIn, kIn, vIn);
        }

        int valid = validLengths is null ? skv : validLengths[b];
        double[] context = new double[s * qw];
        var probabilities = new double[]?[h][];
        for (int head = 0; head < h; head++)
        {
            probabilities[head] = new double[]?[s];
            int kvHead = head / (info.Heads / info.KvHeads);
            for (int i = 0; i < s; i++)
            {
                var scores = new double[skv];
                var allowed = new bool[skv];
                bool any = false;
                for (int j = 0; j < skv; j++)
                {
                    allowed[j] = j < valid && (!info.Causal || j <= i + (skv - s));
                    if (!allowed[j])
                    {
                        continue;
                    }
                    any = true;
                    double score = 0;
                    for (int c = 0; c < d; c++)
                    {
                        double qc = q[i * qw + head * d + c], kc = k[j * kvw + kvHead * d + c];
                        score += info.Scoring == AttentionScoring.Additive
                            ? w.AdditiveV![head * d + c] * Math.Tanh(qc + kc)
                            : qc * kc;
                    }
                    scores[j] = info.Scoring == AttentionScoring.ScaledDotProduct ? score * info.Scale : score;
                }
                if (!any)
                {
                    continue; // no key to attend to: the context row stays zero
                }
                double max = double.NegativeInfinity;
                for (int j = 0; j < skv; j++)
                {
                    if (allowed[j]) max = Math.Max(max, scores[j]);
                }
                double sum = 0;
                for (int j = 0; j < skv; j++)
                {
                    scores[j] = allowed[j] ? Math.Exp(scores[j] - max) : 0;
                    sum += scores[j];
                }
                for (int j = 0; j < skv; j++)
                {
                    double p = scores[j] /= sum;
                    for (int c = 0; c < d; c++)
                    {
                        context[i * qw + head * d + c] += p * v[j * kvw + kvHead * d + c];
                    }
                }
                probabilities[head][i] = scores;
            }
        }

        double[] output = info.Projections ? Linear(context, s, qw, w.OutProj!, 0, m, w.OutBias) : context;
        return new Sequence(qIn, kIn, vIn, q, k, v, probabilities, context, output);
    }

    private static double[] Slice(double[] data, int b, int rows, int width)
        => data.AsSpan(b * rows * width, rows * width).ToArray();

    /// <summary>y[r, o] = Σ_c x[r, c] · W[rowOffset + o, c] + bias[rowOffset + o].</summary>
    private static double[] Linear(double[] x, int rows, int width, double[] w, int rowOffset, int outputs, double[]? bias)
    {
        var y = new double[rows * outputs];
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outputs; o++)
            {
                double acc = bias is null ? 0 : bias[rowOffset + o];
                for (int c = 0; c < width; c++)
                {
                    acc += x[r * width + c] * w[(rowOffset + o) * width + c];
                }
                y[r * outputs + o] = acc;
            }
        }
        return y;
    }
}
