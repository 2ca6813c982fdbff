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
