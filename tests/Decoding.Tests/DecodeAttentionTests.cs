using AttnGen.Kernels.Tests;

namespace AttnGen.Decoding.Tests;

[Collection(nameof(SteadyStateAllocation))]
public sealed unsafe class DecodeAttentionTests
{
    private const double Tolerance = 1e-5;

    /// <summary>
    /// Awkward shapes: head widths that are not vector multiples, contexts around one key block, G = 1 and 4,
    /// 1 to 7 tokens, one and two threads, and batches whose (sequence, key/value head) count is odd, so two
    /// threads split each context into ranges (split-K) as well as share whole pairs.
    /// </summary>
    public static TheoryData<int, int, int, int, int, int, int> Shapes()
    {
        var data = new TheoryData<int, int, int, int, int, int, int>();
        int[] headDims = [1, 3, 64, 80, 128];
        int[] pasts = [0, 1, 15, 16, 17, 100, 1000];
        (int Batch, int KvHeads)[] layouts = [(1, 1), (2, 2), (3, 1)];
        int[] groupsOf = [1, 4];
        int[] tokensOf = [1, 3, 7];
        int i = 0;
        foreach (int headDim in headDims)
        {
            foreach (int past in pasts)
            {
                (int batch, int kvHeads) = layouts[i % layouts.Length];
                int groups = groupsOf[i / 3 % 2];
                int tokens = tokensOf[i % 3];
                int threads = 1 + i / 2 % 2;
                data.Add(batch, kvHeads * groups, kvHeads, headDim, past, tokens, threads);
                i++;
            }
        }
        // Every G x T x threads combination on a context of a few blocks with a partial last block.
        foreach (int groups in groupsOf)
        {
            foreach (int tokens in tokensOf)
            {
                foreach (int threads in new[] { 1, 2 })
                {
                    data.Add(1, groups, 1, 16, 37, tokens, threads);
                    data.Add(2, 2 * groups, 2, 24, 50, tokens, threads);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void EveryPath_MatchesTheFloat64Reference(int batch, int heads, int kvHeads, int headDim, int past, int tokens, int threads)
    {
        using var test = new DecodeCase(batch, heads, kvHeads, headDim, past, tokens, capacity: past + tokens + 19, seed: headDim * 31 + past);
        foreach (float scale in new[] { DecodeAttention.ScaleFor(AttentionScoring.ScaledDotProduct, headDim), DecodeAttention.ScaleFor(AttentionScoring.DotProduct, headDim) })
        {
            double[] expected = test.Reference(scale);
            using var decoder = new DecodeAttention(heads, kvHeads, headDim, scale, maxTokens: 7);
            foreach (KernelIsa isa in KernelIsaSupport.Supported)
            {
                float[] actual = test.Run(decoder, isa, threads);
                double error = TestData.RelativeError(actual, expected).Error;
                Assert.True(error <= Tolerance, $"{isa}, scale {scale}, {threads} thread(s): relative error {error:G3} > {Tolerance:G1}.");
                Assert.Equal(past, test.Cache.Length); // the run reads the pending rows and commits nothing
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestSupport.SupportedIsas), MemberType = typeof(TestSupport))]
    public void RepeatedCalls_AreBitIdentical(KernelIsa isa)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            using var test = new DecodeCase(1, 8, 1, 64, 700, 3, 720, seed: 4); // one pair: two threads split it
            using var decoder = new DecodeAttention(8, 1, 64, 0.125f, 4);
            float[] first = test.Run(decoder, isa, threads);
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(first, test.Run(decoder, isa, threads));
            }
        }
    }

    [Theory]
    [InlineData(8, 1, 100, 1)]   // one thread: never split
    [InlineData(8, 2, 100, 1)]   // eight pairs share out evenly
    [InlineData(1, 2, 100, 2)]   // one pair: two ranges
    [InlineData(3, 2, 100, 2)]   // three pairs: six ranges, three per thread
    [InlineData(1, 2, 1, 1)]     // one key block cannot be split
    [InlineData(5, 4, 100, 4)]
    [InlineData(6, 4, 100, 2)]
    public void SplitsFor_MakesTheUnitsAMultipleOfTheThreads(int items, int threads, int blocks, int expected)
        => Assert.Equal(expected, DecodeAttention.SplitsFor(items, threads, blocks));

    /// <summary>
    /// Cache, queries and output each end against an inaccessible page (and, in a second run, start after one):
    /// a read or write outside them crashes the run. The capacity is full after the step, not a multiple of 16,
    /// so the last key block is partial and the last value row is the last float of the memory.
    /// </summary>
    [Theory]
    [InlineData(3, 37, 1, false)]
    [InlineData(80, 37, 2, false)]
    [InlineData(5, 21, 7, false)]
    [InlineData(3, 37, 1, true)]
    [InlineData(17, 50, 3, true)]
    [InlineData(6, 70, 66, false)]   // the query-tiled kernel: whole and partial tiles, the last block partial
    [InlineData(128, 45, 45, true)]
    public void GuardedBuffers_AreNeverReadOrWrittenOutside(int headDim, int capacity, int tokens, bool guardBefore)
    {
        Assert.SkipUnless(GuardedMemory.IsAvailable, "guard pages need mmap/mprotect (Linux)");
        const int batch = 1, heads = 4, kvHeads = 2;
        using var keys = new GuardedMemory((int)KvCache.KeyFloats(batch, capacity, kvHeads, headDim), guardBefore);
        using var values = new GuardedMemory((int)KvCache.ValueFloats(batch, capacity, kvHeads, headDim), guardBefore);
        using var test = new DecodeCase(batch, heads, kvHeads, headDim, capacity - tokens, tokens, capacity, seed: 8,
            (b, c, k, d) => new KvCache(typeof(DecodeCase), b, c, k, d, keys.Pointer, values.Pointer));
        using var queries = new GuardedMemory(test.Queries.Length, guardBefore);
        using var output = new GuardedMemory(test.Queries.Length, guardBefore);
        test.Queries.CopyTo(queries.Span);
        double[] expected = test.Reference(1f / MathF.Sqrt(headDim));
        using var decoder = new DecodeAttention(heads, kvHeads, headDim, 1f / MathF.Sqrt(headDim), tokens);
        foreach (KernelIsa isa in KernelIsaSupport.Supported)
        {
            foreach (int threads in new[] { 1, 2 })
            {
                output.Span.Fill(float.NaN);
                decoder.Run(test.Cache, queries.Span, output.Span, tokens, isa, threads);
                Assert.True(TestData.RelativeError(output.Span, expected).Error <= Tolerance, $"{isa}, {threads} thread(s)");
            }
        }
    }

    /// <summary>Queries and output inside wider rows (a fused projection buffer): only each row's head columns are touched.</summary>
    [Fact]
    public void StridedRows_ReadAndWriteOnlyTheirColumns()
    {
        const int heads = 4, kvHeads = 2, headDim = 8, tokens = 3, batch = 2, stride = 50;
        using var test = new DecodeCase(batch, heads, kvHeads, headDim, 20, tokens, 30, seed: 3);
        double[] expected = test.Reference(1);
        var queries = new float[batch * tokens * stride];
        var output = new float[batch * tokens * stride + 7];
        Array.Fill(output, -7f);
        for (int row = 0; row < batch * tokens; row++)
        {
            test.Queries.AsSpan(row * heads * headDim, heads * headDim).CopyTo(queries.AsSpan(row * stride + 5));
        }
        using var decoder = new DecodeAttention(heads, kvHeads, headDim, 1f, tokens);
        fixed (float* q = queries, o = output)
        {
            decoder.Run(test.Cache, q + 5, stride, o + 2, stride, tokens, KernelIsaSupport.Best, 2);
        }
        var packed = new float[expected.Length];
        for (int row = 0; row < batch * tokens; row++)
        {
            output.AsSpan(row * stride + 2, heads * headDim).CopyTo(packed.AsSpan(row * heads * headDim));
            output.AsSpan(row * stride + 2, heads * headDim).Fill(-7f);
        }
        Assert.True(TestData.RelativeError(packed, expected).Error <= Tolerance);
        Assert.All(output, x => Assert.Equal(-7f, x));
    }

    [Fact]
    public void SteadyState_AllocatesNothing()
    {
        using var test = new DecodeCase(2, 8, 2, 64, 300, 1, 400, seed: 5);
        using var decoder = new DecodeAttention(8, 2, 64, 0.125f, 1);
        var output = new float[test.Queries.Length];
        foreach (int threads in new[] { 1, 2 })
        {
            decoder.Run(test.Cache, test.Queries, output, 1, KernelIsaSupport.Best, threads);
            // Up to three measured calls, one of which must allocate nothing: the second worker is queued on the thread
            // pool's global queue, which the test classes running alongside share, and that queue now and then grows a
            // segment on whichever thread queues work at that moment. A call that allocates allocates every time.
            var allocated = new List<long>();
            for (int attempt = 0; attempt < 3 && (allocated.Count == 0 || allocated[^1] != 0); attempt++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                decoder.Run(test.Cache, test.Queries, output, 1, KernelIsaSupport.Best, threads);
                allocated.Add(GC.GetAllocatedBytesForCurrentThread() - before);
            }
            Assert.True(allocated[^1] == 0, $"{threads} thread(s): every measured call allocated ({string.Join(", ", allocated)} bytes)");
        }
    }

    [Fact]
    public void BadArguments_AreRefusedByNameAndNothingIsWritten()
    {
        using var test = new DecodeCase(1, 4, 2, 8, 10, 2, 12, seed: 6); // full after this step
        using var decoder = new DecodeAttention(4, 2, 8, 1f, 2);
        var output = new float[test.Queries.Length];
        Array.Fill(output, -3f);

        var tooMany = Assert.Throws<ArgumentOutOfRangeException>(() => decoder.Run(test.Cache, new float[96], new float[96], 3, KernelIsaSupport.Best, 1));
        Assert.Equal("tokens", tooMany.ParamName);
        Assert.Contains("expected 1..2", tooMany.Message);

        using (var nearlyFull = new DecodeCase(1, 4, 2, 8, 11, 1, 12, seed: 7))
        {
            var overflow = Assert.Throws<ArgumentOutOfRangeException>(() => decoder.Run(nearlyFull.Cache, test.Queries, output, 2, KernelIsaSupport.Best, 1));
            Assert.Equal("tokens", overflow.ParamName);
            Assert.Contains("cache length 11, capacity 12", overflow.Message);
            Assert.Equal(11, nearlyFull.Cache.Length);
        }

        var shortQueries = Assert.Throws<ArgumentException>(() => decoder.Run(test.Cache, test.Queries.AsSpan(1), output, 2, KernelIsaSupport.Best, 1));
        Assert.Equal("queries", shortQueries.ParamName);

        using var other = new KvCache(typeof(DecodeCase), 1, 12, 1, 8);
        var heads = Assert.Throws<ArgumentException>(() => decoder.Run(other, test.Queries, output, 2, KernelIsaSupport.Best, 1));
        Assert.Equal("cache", heads.ParamName);
        Assert.Contains("holds 1 key/value heads of 8; expected 2 heads of 8", heads.Message);

        var threads = Assert.Throws<ArgumentOutOfRangeException>(() => decoder.Run(test.Cache, test.Queries, output, 2, KernelIsaSupport.Best, 0));
        Assert.Equal("threads", threads.ParamName);

        foreach (KernelIsa isa in Enum.GetValues<KernelIsa>().Where(i => !KernelIsaSupport.IsSupported(i)))
        {
            Assert.Throws<NotSupportedException>(() => decoder.Run(test.Cache, test.Queries, output, 2, isa, 1));
        }
        Assert.All(output, x => Assert.Equal(-3f, x));
        Assert.Equal(10, test.Cache.Length);
    }

    [Fact]
    public void Construction_RefusesHeadsThatDoNotGroupAndAdditiveScoring()
    {
        Assert.Equal("heads", Assert.Throws<ArgumentException>(() => new DecodeAttention(6, 4, 8, 1f, 1)).ParamName);
        Assert.Equal("scale", Assert.Throws<ArgumentOutOfRangeException>(() => new DecodeAttention(4, 4, 8, float.NaN, 1)).ParamName);
        Assert.Equal("scoring", Assert.Throws<ArgumentException>(() => DecodeAttention.ScaleFor(AttentionScoring.Additive, 8)).ParamName);
        Assert.Equal(0.125f, DecodeAttention.ScaleFor(AttentionScoring.ScaledDotProduct, 64));
        Assert.Equal(1f, DecodeAttention.ScaleFor(AttentionScoring.DotProduct, 64));
    }
}
