using AttnGen.Kernels.Tests;

namespace AttnGen.Decoding.Tests;

/// <summary>Grouped-query decoder: 4 query heads over 2 key/value heads of 16, 80 positions (more than one 64-token chunk).</summary>
[AttentionLayer(heads: 4, headDim: 16, seqLen: 80, KvHeads = 2, Causal = true, KvCache = true)]
public partial class GqaDecoder;

/// <summary>Multi-head decoder with widths that are no multiple of any vector (model 20, heads of 6) and no biases.</summary>
[AttentionLayer(heads: 3, headDim: 6, seqLen: 70, ModelDim = 20, Causal = true, Bias = false, KvCache = true)]
public partial class MhaDecoder;

/// <summary>
/// The cached decoding path of generated layers: <c>Forward(input, output, cache, tokens)</c> against the same rows of
/// the full causal Forward, on every path this process supports (tests/run.sh runs the suite again with instruction
/// sets switched off and under Arm64 emulation).
/// </summary>
[Collection(nameof(SteadyStateAllocation))]
public sealed class CachedForwardTests
{
    // Both paths compute the same projections (the same register tiles in the same order on the vector paths, the
    // same loops on the scalar one) but the attention differs: the full Forward's online softmax walks key blocks of
    // its own size, the decode kernel blocks of 16, so the running max, the rescaling and the sums round differently.
    // Each output is a sum of at most 80 softmax-weighted values (weights summing to 1) then a projection over 24
    // inputs; float32 rounding (6e-8 relative) accumulated over those few hundred operations stays below 1e-5 of the
    // output's largest magnitude. 2e-5 leaves margin and still catches a wrong position, mask or head (errors of 1e-2 and more).
    private const double Tolerance = 2e-5;

    public static TheoryData<KernelIsa> Isas() => TestSupport.SupportedIsas();

    [Theory]
    [MemberData(nameof(Isas))]
    public void GroupedQuery_EqualsTheFullCausalForward(KernelIsa isa)
    {
        using var layer = new GqaDecoder();
        CheckEverySchedule(layer, isa, seed: 11);
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void MultiHead_EqualsTheFullCausalForward(KernelIsa isa)
    {
        using var layer = new MhaDecoder();
        CheckEverySchedule(layer, isa, seed: 23);
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void TruncateAndReset_ThenDecodingAgain_GivesTheSameRows(KernelIsa isa)
    {
        using var layer = new GqaDecoder();
        TestData.RandomParameters(layer, 5);
        layer.Isa = isa;
        const int batch = 2, m = GqaDecoder.ModelDim;
        float[] x = TestData.Uniform(batch * 50 * m, 6);
        using KvCache cache = layer.CreateCache(batch);
        float[] first = Decode(layer, cache, x, 50, [20, 10, 1, 1, 18]);
        Assert.Equal(50, cache.Length);

        cache.Truncate(30);
        Assert.Equal(30, cache.Length);
        float[] again = Decode(layer, cache, Rows(x, batch, 50, 30, 20, m), 20, [1, 1, 18]);
        Assert.Equal(Rows(first, batch, 50, 30, 20, m), again);

        cache.Reset();
        Assert.Equal(0, cache.Length);
        Assert.Equal(first, Decode(layer, cache, x, 50, [20, 10, 1, 1, 18]));
    }

    /// <summary>Rotary layers: the cached path (queries and keys turned at positions Length ..) against the full Forward.</summary>
    [Theory]
    [MemberData(nameof(Isas))]
    public void Rotary_EqualsTheFullCausalForward(KernelIsa isa)
    {
        using var layer = new RotaryCachedLayer();
        CheckEverySchedule(layer, isa, seed: 31);
    }

    /// <summary>Rotary layers against a float64 layer written from the formula, so both paths are held to more than each other.</summary>
    [Theory]
    [MemberData(nameof(Isas))]
    public void Rotary_MatchesAFloat64Reference(KernelIsa isa)
    {
        using var layer = new RotaryCachedLayer();
        TestData.RandomParameters(layer, 31);
        layer.Isa = isa;
        const int s = RotaryCachedLayer.SeqLen, m = RotaryCachedLayer.ModelDim;
        double[] block = RotaryReference.ToDouble(layer.ParameterBlock);
        foreach (int batch in new[] { 1, 3 })
        {
            float[] x = TestData.Uniform(batch * s * m, 32 + batch);
            double[] xd = RotaryReference.ToDouble(x);
            double[] expected = RotaryReference.Forward(layer.Info, layer.Parameters, block, xd, xd, xd, batch, null);
            foreach (int[] schedule in new[] { Ones(s), [7, 7, 7, 3], [s], [13, 1, 1, 1, 8] })
            {
                foreach (int threads in new[] { 1, 2 })
                {
                    layer.MaxDegreeOfParallelism = threads;
                    using KvCache cache = layer.CreateCache(batch);
                    float[] actual = Decode(layer, cache, x, s, schedule);
                    (double error, int at) = TestData.RelativeError(actual, expected);
                    // The reference differs from float32 arithmetic by the rounding of short sums (24-wide projections, at
                    // most 24 keys): about 1e-6 relative; a position off by one turns a head by a radian and errs by 1e-1.
                    Assert.True(error < 2e-5, $"{isa}, batch {batch}, threads {threads}, schedule [{string.Join(", ", schedule)}]: relative error {error:E2} at {at}");
                }
            }
        }
    }

    [Fact]
    public void SteadyStateSteps_AllocateNothing()
    {
        using var layer = new GqaDecoder();
        TestData.RandomParameters(layer, 3);
        layer.MaxDegreeOfParallelism = 1;
        const int m = GqaDecoder.ModelDim;
        using KvCache cache = layer.CreateCache(2);
        float[] input = TestData.Uniform(2 * m, 4), output = new float[2 * m];
        for (int i = 0; i < 10; i++)
        {
            layer.Forward(input, output, cache, 1);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        layer.Forward(input, output, cache, 1);
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(0, after - before);
        Assert.Equal(11, cache.Length);
    }

    [Fact]
    public void CreateCache_HasTheLayersShapeAndOwner()
    {
        using var layer = new GqaDecoder();
        using KvCache cache = layer.CreateCache(3);
        Assert.Equal((3, GqaDecoder.SeqLen, GqaDecoder.KvHeads, GqaDecoder.HeadDim, 0), (cache.Batch, cache.Capacity, cache.KvHeads, cache.HeadDim, cache.Length));
        Assert.Equal(typeof(GqaDecoder), cache.Owner);
        Assert.Throws<ArgumentOutOfRangeException>("batch", () => layer.CreateCache(0));
    }

    [Fact]
    public void KernelTablesOfOtherLayers_HaveNoDecodingKernels()
    {
        var e = Assert.Throws<NotSupportedException>(ProjectRowsOf<PlainCausalLayer.Kernels>);
        Assert.Contains("KvCache = true", e.Message);
    }

    private static unsafe void ProjectRowsOf<TKernels>() where TKernels : struct, IAttentionKernels
        => TKernels.ProjectRows(KernelIsa.Scalar, null, 1, null, null);

    // Every chunk schedule, batch 1 and 3, 1 and 2 threads: each step's rows against the full causal Forward's.
    private static void CheckEverySchedule<TKernels>(CausalDecoderLayer<TKernels> layer, KernelIsa isa, int seed)
        where TKernels : struct, IAttentionKernels
    {
        TestData.RandomParameters(layer, seed);
        layer.Isa = isa;
        int s = layer.Info.SeqLen, m = layer.Info.ModelDim;
        int head = Math.Min(37, s - 1); // a first chunk that ends inside a key block, then one-token steps
        int[][] schedules = [Ones(s), Repeat(7, s), Repeat(64, s), [s], [head, .. Ones(s - head)]];
        foreach (int batch in new[] { 1, 3 })
        {
            float[] x = TestData.Uniform(batch * s * m, seed + batch);
            var full = new float[x.Length];
            layer.MaxDegreeOfParallelism = 1;
            layer.Forward(x, full, batch);
            double[] expected = Array.ConvertAll(full, v => (double)v);
            foreach (int threads in new[] { 1, 2 })
            {
                layer.MaxDegreeOfParallelism = threads;
                foreach (int[] schedule in schedules)
                {
                    using KvCache cache = layer.CreateCache(batch);
                    float[] actual = Decode(layer, cache, x, s, schedule);
                    Assert.Equal(s, cache.Length);
                    (double error, int at) = TestData.RelativeError(actual, expected);
                    Assert.True(error < Tolerance,
                        $"{isa}, batch {batch}, threads {threads}, schedule [{Summary(schedule)}]: relative error {error:E2} at row {at / m % s} of sequence {at / m / s}");
                }
            }
        }
    }

    /// <summary>Decodes <paramref name="x"/> [batch, length, M] through the cache in the given chunks; returns the outputs in the same layout.</summary>
    internal static float[] Decode<TKernels>(CausalDecoderLayer<TKernels> layer, KvCache cache, float[] x, int length, int[] schedule)
        where TKernels : struct, IAttentionKernels
    {
        int batch = cache.Batch, m = layer.Info.ModelDim, position = 0;
        var output = new float[x.Length];
        foreach (int tokens in schedule)
        {
            float[] step = new float[batch * tokens * m];
            layer.Forward(Rows(x, batch, length, position, tokens, m), step, cache, tokens);
            for (int b = 0; b < batch; b++)
            {
                step.AsSpan(b * tokens * m, tokens * m).CopyTo(output.AsSpan((b * length + position) * m));
            }
            position += tokens;
        }
        Assert.Equal(length, position);
        return output;
    }

    /// <summary>Rows first .. first + count - 1 of every sequence of <paramref name="x"/> [batch, length, m].</summary>
    internal static float[] Rows(float[] x, int batch, int length, int first, int count, int m)
    {
        var rows = new float[batch * count * m];
        for (int b = 0; b < batch; b++)
        {
            x.AsSpan((b * length + first) * m, count * m).CopyTo(rows.AsSpan(b * count * m));
        }
        return rows;
    }

    internal static int[] Ones(int count) => Enumerable.Repeat(1, count).ToArray();

    private static int[] Repeat(int chunk, int total)
        => Enumerable.Range(0, (total + chunk - 1) / chunk).Select(i => Math.Min(chunk, total - i * chunk)).ToArray();

    private static string Summary(int[] schedule) => schedule.Length > 8 ? $"{schedule[0]}, {schedule[1]}, ... ({schedule.Length} steps)" : string.Join(", ", schedule);
}
