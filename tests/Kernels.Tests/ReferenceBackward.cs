namespace AttnGen.Kernels.Tests;

public static partial class Reference
{
    /// <summary>dL/dquery, dL/dkey, dL/dvalue and dL/dparameters (laid out like the parameter block).</summary>
    public sealed record Gradients(double[] Query, double[] Key, double[] Value, double[] Parameters);

    /// <summary>
    /// The analytic gradients of <c>L = Σ outputGrad ∘ output</c> in float64, by the chain rule through the same
    /// steps as <see cref="Forward(AttentionLayerInfo, IReadOnlyList{LayerParameter}, double[], double[], double[], double[], int, int[])"/>
    /// with the full probability matrix (no recomputation, no blocking). The finite-difference test holds it
    /// to the forward reference; every element of a layer's gradients is held to it.
    /// </summary>
    public static Gradients Backward(AttentionLayerInfo info, IReadOnlyList<LayerParameter> parameters, ReadOnlySpan<float> block,
        float[] query, float[] key, float[] value, float[] outputGrad, int batch, int[]? validLengths)
    {
        int h = info.Heads, d = info.HeadDim, s = info.SeqLen, skv = info.KvSeqLen, m = info.ModelDim;
        int qw = h * d, kvw = info.KvHeads * d, group = info.Heads / info.KvHeads;
        double[] blockD = ToDouble(block), queryD = ToDouble(query), keyD = ToDouble(key), valueD = ToDouble(value), dyAll = ToDouble(outputGrad);
        Weights w = Unpack(parameters, blockD);
        int Offset(string name) => parameters.FirstOrDefault(p => p.Name == name)?.Offset ?? -1;
        var result = new Gradients(new double[query.Length], new double[key.Length], new double[value.Length], new double[block.Length]);
        double[] dBlock = result.Parameters;

        for (int b = 0; b < batch; b++)
        {
            Sequence x = Run(info, w, queryD, keyD, valueD, b, validLengths);
            double[] dy = Slice(dyAll, b, s, m);
            double[] dc = info.Projections
                ? LinearBackward(dy, x.Context, s, qw, w.OutProj!, 0, m, dBlock, Offset("out_proj.weight"), Offset("out_proj.bias"))
                : dy;

            double[] dq = new double[s * qw], dk = new double[skv * kvw], dv = new double[skv * kvw];
            int additiveV = Offset("additive_v");
            for (int head = 0; head < h; head++)
            {
                int g = head / group;
                for (int i = 0; i < s; i++)
                {
                    double[]? p = x.P[head][i];
                    if (p is null)
                    {
                        continue;
                    }
                    // dP_ij = dC_i · V_j;  dS_ij = P_ij (dP_ij - Σ_l P_il dP_il);  dV_j += P_ij dC_i
                    var dp = new double[skv];
                    double delta = 0;
                    for (int j = 0; j < skv; j++)
                    {
                        for (int c = 0; c < d; c++)
                        {
                            dp[j] += dc[i * qw + head * d + c] * x.V[j * kvw + g * d + c];
                            dv[j * kvw + g * d + c] += p[j] * dc[i * qw + head * d + c];
                        }
                        delta += p[j] * dp[j];
                    }
                    for (int j = 0; j < skv; j++)
                    {
                        double ds = p[j] * (dp[j] - delta);
                        if (ds == 0)
                        {
                            continue;
                        }
                        for (int c = 0; c < d; c++)
                        {
                            int qi = i * qw + head * d + c, kj = j * kvw + g * d + c;
                            if (info.Scoring == AttentionScoring.Additive)
                            {
                                double t = Math.Tanh(x.Q[qi] + x.K[kj]);
                                double dt = ds * w.AdditiveV![head * d + c] * (1 - t * t);
                                dq[qi] += dt;
                                dk[kj] += dt;
                                dBlock[additiveV + head * d + c] += ds * t;
                            }
                            else
                            {
                                double scaled = info.Scoring == AttentionScoring.ScaledDotProduct ? ds * info.Scale : ds;
                                dq[qi] += scaled * x.K[kj];
                                dk[kj] += scaled * x.Q[qi];
                            }
                        }
                    }
                }
            }

            double[] dxq = dq, dxk = dk, dxv = dv;
            if (info.Projections)
            {
                int weight = Offset("in_proj_weight"), bias = Offset("in_proj_bias");
                dxq = LinearBackward(dq, x.QueryIn, s, info.QueryInputWidth, w.InProj!, 0, qw, dBlock, weight, bias);
                dxk = LinearBackward(dk, x.KeyIn, skv, info.KvInputWidth, w.InProj!, qw, kvw, dBlock, weight, bias);
                dxv = LinearBackward(dv, x.ValueIn, skv, info.KvInputWidth, w.InProj!, qw + kvw, kvw, dBlock, weight, bias);
            }
            Array.Copy(dxq, 0, result.Query, b * dxq.Length, dxq.Length);
            Array.Copy(dxk, 0, result.Key, b * dxk.Length, dxk.Length);
            Array.Copy(dxv, 0, result.Value, b * dxv.Length, dxv.Length);
        }
        return result;
    }

    /// <summary>
    /// Backward of <see cref="Linear"/>: returns dx; adds dW into <c>dBlock[weightOffset + (rowOffset + o) * width + c]</c>
    /// and db into <c>dBlock[biasOffset + rowOffset + o]</c> (no bias when <paramref name="biasOffset"/> is negative).
    /// </summary>
    private static double[] LinearBackward(double[] dy, double[] x, int rows, int width, double[] w, int rowOffset, int outputs,
        double[] dBlock, int weightOffset, int biasOffset)
    {
        var dx = new double[rows * width];
        for (int r = 0; r < rows; r++)
        {
            for (int o = 0; o < outputs; o++)
            {
                double g = dy[r * outputs + o];
                int row = rowOffset + o;
                for (int c = 0; c < width; c++)
                {
                    dx[r * width + c] += g * w[row * width + c];
                    dBlock[weightOffset + row * width + c] += g * x[r * width + c];
                }
                if (biasOffset >= 0)
                {
                    dBlock[biasOffset + row] += g;
                }
            }
        }
        return dx;
    }
}
