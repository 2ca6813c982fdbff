namespace AttnGen.Kernels.Tests;

/// <summary>Inputs and parameters for kernel tests, from System.Random so they share nothing with the runtime.</summary>
public static class TestData
{
    public static float[] Uniform(int length, int seed, float low = -1f, float high = 1f)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = low + (float)random.NextDouble() * (high - low);
        }
        return values;
    }

    /// <summary>Fills every parameter, biases and additive_v included, so none of them is tested at zero.</summary>
    public static void RandomParameters(IAttentionLayer layer, int seed)
    {
        Span<float> block = layer.ParameterBlock;
        float[] values = Uniform(block.Length, seed, -0.3f, 0.3f);
        values.CopyTo(block);
    }

    public sealed record Inputs(float[] Query, float[] Key, float[] Value, float[] Output);

    public static Inputs For(AttentionLayerInfo info, int batch, int seed)
    {
        int kvLength = batch * info.KvSeqLen * info.KvInputWidth;
        return new Inputs(
            Uniform(batch * info.SeqLen * info.QueryInputWidth, seed),
            Uniform(kvLength, seed + 1),
            Uniform(kvLength, seed + 2),
            new float[batch * info.SeqLen * info.ModelDim]);
    }

    /// <summary>
    /// Batches of 1 and 3 sequences (with and without padding) on 2 and 3 threads, where whole sequences run out and
    /// the workers share a sequence: every output bit must equal the one-thread output.
    /// </summary>
    public static void AssertSharedSequencesGiveTheBitsOfOneThread(IAttentionLayer layer, int seed)
    {
        AllowThreeSharingWorkers();
        AttentionLayerInfo info = layer.Info;
        foreach (int batch in new[] { 1, 3 })
        {
            Inputs x = For(info, batch, seed + batch);
            int[] padded = batch == 1 ? [Math.Max(1, info.KvSeqLen * 2 / 3)] : [info.KvSeqLen, 1, Math.Max(1, info.KvSeqLen / 2)];
            foreach (int[] validLengths in new[] { [], padded })
            {
                layer.MaxDegreeOfParallelism = 1;
                layer.Forward(x.Query, x.Key, x.Value, x.Output, batch, validLengths);
                float[] one = (float[])x.Output.Clone();
                foreach (int threads in new[] { 2, 3 })
                {
                    layer.MaxDegreeOfParallelism = threads;
                    x.Output.AsSpan().Fill(float.NaN);
                    layer.Forward(x.Query, x.Key, x.Value, x.Output, batch, validLengths);
                    int differs = one.AsSpan().CommonPrefixLength(x.Output);
                    Assert.True(differs == one.Length,
                        $"batch {batch}{(validLengths.Length > 0 ? " (padded)" : "")} on {threads} threads ({layer.Isa}): output [{differs}] is " +
                        $"{(differs < one.Length ? x.Output[differs] : 0)}, one thread gave {(differs < one.Length ? one[differs] : 0)}");
                }
            }
        }
    }

    /// <summary>
    /// Lets three workers share a sequence on a machine with fewer processors, so uneven splits run here too (the
    /// result is the same for any split; only the speed depends on the processors).
    /// </summary>
    public static void AllowThreeSharingWorkers() => SequenceSplit.MaxSharingWorkers = Math.Max(3, Environment.ProcessorCount);

    /// <summary>Largest |actual - expected| relative to the largest |expected|, and where it is.</summary>
    public static (double Error, int Index) RelativeError(ReadOnlySpan<float> actual, double[] expected)
    {
        double scale = 1e-30;
        foreach (double e in expected)
        {
            scale = Math.Max(scale, Math.Abs(e));
        }
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            if (double.IsNaN(actual[i]))
            {
                error = double.PositiveInfinity;
            }
            if (error > worst || at < 0)
            {
                (worst, at) = (error, i);
            }
        }
        return (worst / scale, at);
    }
}
