using AttnGen.Kernels.Tests;

namespace AttnGen.Decoding.Tests;

/// <summary>
/// Chunks of several tokens (the query-tiled kernel from <see cref="PrefillKernel.MinRows"/> rows, the row kernel
/// below) against the float64 reference: every chunk size 1..70, head widths that are not vector multiples,
/// G = 1 and 4, contexts that start and end inside key blocks, one and two threads (two threads split a pair's
/// positions into ranges when the pairs do not share out evenly).
/// </summary>
public sealed class PrefillAttentionTests
{
    private const double Tolerance = 1e-5;

    public static TheoryData<int, int> Shapes()
    {
        var data = new TheoryData<int, int>();
        foreach (int headDim in new[] { 1, 6, 64, 80, 128 })
        {
            foreach (int groups in new[] { 1, 4 })
            {
                data.Add(headDim, groups);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EveryChunkSize_MatchesTheFloat64Reference(int headDim, int groups)
    {
        float scale = DecodeAttention.ScaleFor(AttentionScoring.ScaledDotProduct, headDim);
        for (int tokens = 1; tokens <= 70; tokens++)
        {
            // Pasts cycle through block starts, block ends and the middle of blocks; batch 1 with one pair or batch 2 with two.
            int past = tokens * 13 % 50;
            (int batch, int kvHeads) = tokens % 3 == 0 ? (2, 1) : (1, tokens % 3);
            int threads = 1 + tokens % 2;
            using var test = new DecodeCase(batch, kvHeads * groups, kvHeads, headDim, past, tokens, capacity: past + tokens + 5, seed: headDim * 101 + tokens);
            double[] expected = test.Reference(scale);
            using var decoder = new DecodeAttention(kvHeads * groups, kvHeads, headDim, scale, maxTokens: tokens);
            foreach (KernelIsa isa in KernelIsaSupport.Supported)
            {
                float[] actual = test.Run(decoder, isa, threads);
                (double error, int at) = TestData.RelativeError(actual, expected);
                Assert.True(error <= Tolerance,
                    $"{isa}, {tokens} tokens after {past}, batch {batch}, {kvHeads} kv heads, {threads} thread(s): relative error {error:G3} > {Tolerance:G1} at {at}.");
            }
        }
    }

    /// <summary>A long chunk after a long context, every row on every path, split across two threads (one pair, so split-K).</summary>
    [Theory]
    [MemberData(nameof(TestSupport.SupportedIsas), MemberType = typeof(TestSupport))]
    public void LongChunk_OverALongContext_MatchesTheReference(KernelIsa isa)
    {
        using var test = new DecodeCase(1, 8, 2, 64, 450, 64, 600, seed: 12);
        double[] expected = test.Reference(0.125);
        using var decoder = new DecodeAttention(8, 2, 64, 0.125f, 64);
        foreach (int threads in new[] { 1, 2 })
        {
            double error = TestData.RelativeError(test.Run(decoder, isa, threads), expected).Error;
            Assert.True(error <= Tolerance, $"{isa}, {threads} thread(s): relative error {error:G3}");
        }
    }
}
