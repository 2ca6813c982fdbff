namespace AttnGen.Training.Tests;

/// <summary>Float64 re-implementations of the layers, written from their definitions, for the checks.</summary>
internal static class References
{
    public static double[] Linear(double[] x, double[] w, double[]? b, int rows, int inF, int outF)
    {
        var y = new double[rows * outF];
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outF; o++)
            {
                double sum = b is null ? 0 : b[o];
                for (int i = 0; i < inF; i++)
                {
                    sum += x[r * inF + i] * w[o * inF + i];
                }
                y[r * outF + o] = sum;
            }
        }
        return y;
    }

    public static double[] LayerNorm(double[] x, double[] gamma, double[] beta, int rows, int dim, double eps)
    {
        var y = new double[rows * dim];
        for (int r = 0; r < rows; r++)
        {
            double mean = 0;
            for (int i = 0; i < dim; i++)
            {
                mean += x[r * dim + i];
            }
            mean /= dim;
            double variance = 0;
            for (int i = 0; i < dim; i++)
            {
                double d = x[r * dim + i] - mean;
                variance += d * d;
            }
            variance /= dim;
            for (int i = 0; i < dim; i++)
            {
                y[r * dim + i] = (x[r * dim + i] - mean) / Math.Sqrt(variance + eps) * gamma[i] + beta[i];
            }
        }
        return y;
    }

    public static double[] MeanPool(double[] x, int batch, int seqLen, int dim, int[] valid)
    {
        var y = new double[batch * dim];
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < valid[b]; t++)
            {
                for (int i = 0; i < dim; i++)
                {
                    y[b * dim + i] += x[(b * seqLen + t) * dim + i] / valid[b];
                }
            }
        }
        return y;
    }

    public static double CrossEntropy(double[] logits, int[] labels, int classes)
    {
        int batch = labels.Length;
        double total = 0;
        for (int b = 0; b < batch; b++)
        {
            double max = double.NegativeInfinity;
            for (int c = 0; c < classes; c++)
            {
                max = Math.Max(max, logits[b * classes + c]);
            }
            double sum = 0;
            for (int c = 0; c < classes; c++)
            {
                sum += Math.Exp(logits[b * classes + c] - max);
            }
            total += max + Math.Log(sum) - logits[b * classes + labels[b]];
        }
        return total / batch;
    }

    /// <summary>
    /// Multi-head self-attention with biased q/k/v/out projections (PyTorch nn.MultiheadAttention layout)
    /// and key padding: the plain textbook form, whole score rows at once.
    /// </summary>
    public static double[] Attention(double[] x, double[] block, IReadOnlyList<LayerParameter> layout,
        int batch, int seqLen, int modelDim, int heads, int headDim, double scale, int[] valid)
    {
        int width = heads * headDim;
        double[] Take(string name)
        {
            LayerParameter p = layout.Single(p => p.Name == name);
            return block.AsSpan(p.Offset, p.Length).ToArray();
        }
        double[] inW = Take("in_proj_weight"), inB = Take("in_proj_bias"), outW = Take("out_proj.weight"), outB = Take("out_proj.bias");
        double[] qkv = Linear(x, inW, inB, batch * seqLen, modelDim, 3 * width);
        var context = new double[batch * seqLen * width];
        var scores = new double[seqLen];
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < heads; h++)
            {
                for (int i = 0; i < seqLen && valid[b] > 0; i++)
                {
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < valid[b]; j++)
                    {
                        double dot = 0;
                        for (int d = 0; d < headDim; d++)
                        {
                            dot += qkv[(b * seqLen + i) * 3 * width + h * headDim + d] * qkv[(b * seqLen + j) * 3 * width + width + h * headDim + d];
                        }
                        scores[j] = dot * scale;
                        max = Math.Max(max, scores[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < valid[b]; j++)
                    {
                        scores[j] = Math.Exp(scores[j] - max);
                        sum += scores[j];
                    }
                    for (int j = 0; j < valid[b]; j++)
                    {
                        for (int d = 0; d < headDim; d++)
                        {
                            context[(b * seqLen + i) * width + h * headDim + d] +=
                                scores[j] / sum * qkv[(b * seqLen + j) * 3 * width + 2 * width + h * headDim + d];
                        }
                    }
                }
            }
        }
        return Linear(context, outW, outB, batch * seqLen, width, modelDim);
    }
}
