using AttnGen.Kernels.Tests;

namespace AttnGen.Decoding.Tests;

public sealed unsafe class KvCacheTests
{
    private sealed class OwnerA;

    private sealed class OwnerB;

    [Fact]
    public void NewCache_ReportsItsShapeAndIsEmpty()
    {
        using var cache = new KvCache(typeof(OwnerA), batch: 3, capacity: 37, kvHeads: 2, headDim: 5);
        Assert.Equal((3, 37, 2, 5, 0), (cache.Batch, cache.Capacity, cache.KvHeads, cache.HeadDim, cache.Length));
        Assert.Equal(typeof(OwnerA), cache.Owner);
        Assert.Equal(0, (nint)cache.Keys(0, 0) % 64);
        Assert.Equal(0, (nint)cache.Values(0, 0) % 64);
        Assert.Equal(0, (nint)cache.Values(2, 1) % 64); // every region starts on a cache line
    }

    [Theory]
    [InlineData(0, 1, 1, 1, "batch")]
    [InlineData(1, 0, 1, 1, "capacity")]
    [InlineData(1, 1, 0, 1, "kvHeads")]
    [InlineData(1, 1, 1, -2, "headDim")]
    public void SizesBelowOne_AreRefusedByName(int batch, int capacity, int kvHeads, int headDim, string name)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new KvCache(typeof(OwnerA), batch, capacity, kvHeads, headDim));
        Assert.Equal(name, e.ParamName);
    }

    /// <summary>Rows written from a strided source land where the documented layout says, from an unaligned start.</summary>
    [Theory]
    [InlineData(0, 37, 3)]
    [InlineData(13, 20, 5)]
    [InlineData(16, 16, 80)]
    [InlineData(5, 2, 1)]
    public void Write_PlacesKeysTransposedInBlocksAndValuesRowMajor(int before, int tokens, int headDim)
    {
        const int batch = 2, kvHeads = 2, capacity = 48;
        using var cache = new KvCache(typeof(OwnerA), batch, capacity, kvHeads, headDim);
        int stride = kvHeads * headDim + 3; // a wider source row, as in a fused projection buffer
        var keys = new float[batch][];
        var values = new float[batch][];
        for (int b = 0; b < batch; b++)
        {
            keys[b] = TestData.Uniform((before + tokens) * stride, 10 + b);
            values[b] = TestData.Uniform((before + tokens) * stride, 20 + b);
        }
        // Two appends: positions 0..before-1, then before..before+tokens-1.
        foreach ((int start, int count) in new[] { (0, before), (before, tokens) })
        {
            if (count == 0)
            {
                continue;
            }
            for (int b = 0; b < batch; b++)
            {
                fixed (float* k = keys[b], v = values[b])
                {
                    cache.Write(b, count, k + start * stride, v + start * stride, stride);
                }
            }
            cache.Commit(count);
        }
        Assert.Equal(before + tokens, cache.Length);
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < kvHeads; h++)
            {
                float* kRegion = cache.Keys(b, h), vRegion = cache.Values(b, h);
                for (int p = 0; p < before + tokens; p++)
                {
                    for (int d = 0; d < headDim; d++)
                    {
                        Assert.Equal(keys[b][p * stride + h * headDim + d], kRegion[(p / 16) * headDim * 16 + d * 16 + p % 16]);
                        Assert.Equal(values[b][p * stride + h * headDim + d], vRegion[p * headDim + d]);
                    }
                }
            }
        }
    }

    [Fact]
    public void Truncate_DropsPositionsAndRefusesLengthsOutsideTheCurrentOne()
    {
        using var cache = Filled(10);
        cache.Truncate(7);
        Assert.Equal(7, cache.Length);
        cache.Truncate(7);
        Assert.Equal(7, cache.Length);
        foreach (int bad in new[] { 8, -1 })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => cache.Truncate(bad));
            Assert.Equal("length", e.ParamName);
            Assert.Contains("expected 0..7", e.Message);
            Assert.Equal(7, cache.Length);
        }
        cache.Truncate(0);
        Assert.Equal(0, cache.Length);
    }

    [Fact]
    public void Reset_StartsOver()
    {
        using var cache = Filled(10);
        cache.Reset();
        Assert.Equal(0, cache.Length);
        cache.EnsureRoom(cache.Capacity, "tokens");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(-3)]
    public void EnsureRoom_RefusesTokensThatDoNotFit(int tokens)
    {
        using var cache = Filled(10); // capacity 16: room for 6
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => cache.EnsureRoom(tokens, "tokens"));
        Assert.Equal("tokens", e.ParamName);
        Assert.Contains($"is {tokens}; expected 1..6 (cache length 10, capacity 16)", e.Message);
        Assert.Equal(10, cache.Length);
    }

    [Fact]
    public void Write_WithoutCommit_LeavesTheLengthAndIsOverwrittenByTheNextStep()
    {
        using var cache = Filled(10);
        float[] junk = TestData.Uniform(4, 99), row = TestData.Uniform(4, 98);
        fixed (float* j = junk, r = row)
        {
            cache.Write(0, 1, j, j, 4); // a step that failed after writing
            Assert.Equal(10, cache.Length);
            cache.Write(0, 1, r, r, 4);
        }
        cache.Commit(1);
        Assert.Equal(11, cache.Length);
        Assert.Equal(row[0], cache.Values(0, 0)[10 * 4]);
        Assert.Equal(row[3], cache.Keys(0, 0)[3 * 16 + 10]);
    }

    [Fact]
    public void EnsureCompatible_RefusesACacheOfAnotherLayerTypeNamingBoth()
    {
        using var cache = Filled(3);
        cache.EnsureCompatible(typeof(OwnerA), 1, 4, "cache");
        var e = Assert.Throws<ArgumentException>(() => cache.EnsureCompatible(typeof(OwnerB), 1, 4, "cache"));
        Assert.Equal("cache", e.ParamName);
        Assert.Contains(typeof(OwnerA).FullName!, e.Message);
        Assert.Contains(typeof(OwnerB).FullName!, e.Message);
        var shape = Assert.Throws<ArgumentException>(() => cache.EnsureCompatible(typeof(OwnerA), 2, 4, "cache"));
        Assert.Contains("holds 1 key/value heads of 4; expected 2 heads of 4", shape.Message);
    }

    [Fact]
    public void Dispose_FreesAndLaterUseThrows()
    {
        var cache = Filled(3);
        cache.Dispose();
        cache.Dispose();
        Assert.True(cache.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => cache.Reset());
        Assert.Throws<ObjectDisposedException>(() => cache.Truncate(0));
        Assert.Throws<ObjectDisposedException>(() => cache.EnsureCompatible(typeof(OwnerA), 1, 4, "cache"));
    }

    private static KvCache Filled(int length)
    {
        var cache = new KvCache(typeof(OwnerA), batch: 1, capacity: 16, kvHeads: 1, headDim: 4);
        float[] rows = TestData.Uniform(length * 4, 5);
        fixed (float* p = rows)
        {
            cache.Write(0, length, p, p, 4);
        }
        cache.Commit(length);
        return cache;
    }
}
