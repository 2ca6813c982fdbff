using AttnGen.Kernels.Tests;

namespace AttnGen.Decoding.Tests;

/// <summary>
/// One decoding step set up as a layer would: a cache holding <c>past</c> committed positions plus the
/// <c>tokens</c> pending rows of the step, and the query rows. Positions after the step (up to the capacity)
/// hold NaN, written and then truncated away, so a kernel that looks past the visible positions fails.
/// </summary>
internal sealed unsafe class DecodeCase : IDisposable
{
    public DecodeCase(int batch, int heads, int kvHeads, int headDim, int past, int tokens, int capacity, int seed,
        Func<int, int, int, int, KvCache>? create = null)
    {
        (Batch, Heads, KvHeads, HeadDim, Past, Tokens) = (batch, heads, kvHeads, headDim, past, tokens);
        int width = kvHeads * headDim;
        Keys = new float[batch][];
        Values = new float[batch][];
        Cache = create?.Invoke(batch, capacity, kvHeads, headDim) ?? new KvCache(typeof(DecodeCase), batch, capacity, kvHeads, headDim);
        int written = capacity; // the step's rows, then NaN up to the capacity
        for (int b = 0; b < batch; b++)
        {
            Keys[b] = TestData.Uniform((past + tokens) * width, seed + 2 * b, -2f, 2f);
            Values[b] = TestData.Uniform((past + tokens) * width, seed + 2 * b + 1);
            float[] k = new float[written * width], v = new float[written * width];
            Array.Fill(k, float.NaN);
            Array.Fill(v, float.NaN);
            Keys[b].CopyTo(k, 0);
            Values[b].CopyTo(v, 0);
            fixed (float* kp = k, vp = v)
            {
                Cache.Write(b, written, kp, vp, width);
            }
        }
        Cache.Commit(written);
        Cache.Truncate(past);
        Queries = TestData.Uniform(batch * tokens * heads * headDim, seed + 1000, -2f, 2f);
    }

    public int Batch { get; }
    public int Heads { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public int Past { get; }
    public int Tokens { get; }
    public KvCache Cache { get; }
    public float[][] Keys { get; }
    public float[][] Values { get; }
    public float[] Queries { get; }

    /// <summary>Causal attention of each query row over positions 0..past+t, in float64.</summary>
    public double[] Reference(double scale)
    {
        int d = HeadDim, groups = Heads / KvHeads, width = KvHeads * d;
        var result = new double[Batch * Tokens * Heads * d];
        for (int b = 0; b < Batch; b++)
        {
            for (int t = 0; t < Tokens; t++)
            {
                int visible = Past + t + 1;
                for (int h = 0; h < Heads; h++)
                {
                    int kvHead = h / groups;
                    int q = ((b * Tokens + t) * Heads + h) * d;
                    var scores = new double[visible];
                    double top = double.NegativeInfinity;
                    for (int p = 0; p < visible; p++)
                    {
                        double s = 0;
                        for (int e = 0; e < d; e++)
                        {
                            s += (double)Queries[q + e] * Keys[b][p * width + kvHead * d + e];
                        }
                        scores[p] = s * scale;
                        top = Math.Max(top, scores[p]);
                    }
                    double sum = 0;
                    for (int p = 0; p < visible; p++)
                    {
                        scores[p] = Math.Exp(scores[p] - top);
                        sum += scores[p];
                    }
                    for (int p = 0; p < visible; p++)
                    {
                        for (int e = 0; e < d; e++)
                        {
                            result[q + e] += scores[p] / sum * Values[b][p * width + kvHead * d + e];
                        }
                    }
                }
            }
        }
        return result;
    }

    public float[] Run(DecodeAttention decoder, KernelIsa isa, int threads)
    {
        var output = new float[Queries.Length];
        decoder.Run(Cache, Queries, output, Tokens, isa, threads);
        return output;
    }

    public void Dispose() => Cache.Dispose();
}
