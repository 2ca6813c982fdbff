using AttnGen.Kernels.Tests;

namespace AttnGen.Decoding.Tests;

/// <summary>Rejected cached steps: a typed error naming the argument, the output untouched and the cache unchanged.</summary>
public sealed class CachedForwardErrorTests : IDisposable
{
    private const int M = GqaDecoder.ModelDim, Batch = 3, Past = 70;
    private readonly GqaDecoder _layer = new();
    private readonly KvCache _cache;
    private readonly float[] _history;

    public CachedForwardErrorTests()
    {
        TestData.RandomParameters(_layer, 41);
        _cache = _layer.CreateCache(Batch);
        _history = TestData.Uniform(Batch * Past * M, 42);
        CachedForwardTests.Decode(_layer, _cache, _history, Past, [Past]);
    }

    public void Dispose()
    {
        _cache.Dispose();
        _layer.Dispose();
    }

    public static TheoryData<int> BadTokens() => new() { 0, -1, GqaDecoder.SeqLen - Past + 1, int.MaxValue };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public void TokensOutsideTheRoomLeft_AreRefused(int tokens)
    {
        int rows = Math.Max(1, Math.Min(tokens, GqaDecoder.SeqLen));
        var e = Refused<ArgumentOutOfRangeException>(new float[Batch * rows * M], new float[Batch * rows * M], _cache, tokens);
        Assert.Equal("tokens", e.ParamName);
        Assert.Contains($"expected 1..{GqaDecoder.SeqLen - Past}", e.Message);
    }

    [Fact]
    public void InputOfAnotherBatch_IsRefused()
    {
        var e = Refused<ArgumentException>(new float[2 * M], new float[Batch * M], _cache, 1);
        Assert.Equal("input", e.ParamName);
        Assert.Contains($"expected {Batch * M}", e.Message);
        Assert.Contains($"{2 * M}", e.Message);
    }

    [Fact]
    public void OutputOfAnotherLength_IsRefused()
    {
        var e = Refused<ArgumentException>(new float[Batch * 2 * M], new float[Batch * 2 * M + 1], _cache, 2);
        Assert.Equal("output", e.ParamName);
    }

    [Fact]
    public void CacheOfAnotherLayerType_IsRefused()
    {
        using var other = new KvCache(typeof(MhaDecoder), Batch, GqaDecoder.SeqLen, GqaDecoder.KvHeads, GqaDecoder.HeadDim);
        var e = Refused<ArgumentException>(new float[Batch * M], new float[Batch * M], other, 1);
        Assert.Equal("cache", e.ParamName);
        Assert.Contains(typeof(MhaDecoder).FullName!, e.Message);
        Assert.Contains(typeof(GqaDecoder).FullName!, e.Message);
    }

    [Fact]
    public void DisposedCache_IsRefused()
    {
        KvCache disposed = _layer.CreateCache(Batch);
        disposed.Dispose();
        var output = new float[Batch * M];
        Array.Fill(output, 7f);
        Assert.Throws<ObjectDisposedException>(() => _layer.Forward(new float[Batch * M], output, disposed, 1));
        Assert.All(output, v => Assert.Equal(7f, v));
        AssertCacheUnchanged();
    }

    [Fact]
    public void NullCache_IsRefused()
        => Assert.Throws<ArgumentNullException>("cache", () => _layer.Forward(new float[Batch * M], new float[Batch * M], null!, 1));

    [Fact]
    public void OutputPartlyOverlappingInput_IsRefused()
    {
        var buffer = new float[Batch * M + 1];
        var e = Assert.ThrowsAny<ArgumentException>(() => _layer.Forward(buffer.AsSpan(0, Batch * M), buffer.AsSpan(1), _cache, 1));
        Assert.Contains("output", e.Message);
        AssertCacheUnchanged();
    }

    [Fact]
    public void InPlace_GivesTheSameRowsAsSeparateSpans()
    {
        float[] next = TestData.Uniform(Batch * 3 * M, 43);
        var separate = new float[next.Length];
        _layer.Forward(next, separate, _cache, 3);
        _cache.Truncate(Past);
        float[] inPlace = (float[])next.Clone();
        _layer.Forward(inPlace, inPlace, _cache, 3);
        Assert.Equal(separate, inPlace);
    }

    [Fact]
    public void TensorForm_ReadsTheTokensFromTheShape_AndChecksIt()
    {
        float[] next = TestData.Uniform(Batch * 2 * M, 45);
        var spans = new float[next.Length];
        _layer.Forward(next, spans, _cache, 2);
        _cache.Truncate(Past);
        var tensors = new float[next.Length];
        _layer.Forward(new System.Numerics.Tensors.ReadOnlyTensorSpan<float>(next, [Batch, 2, M]),
            new System.Numerics.Tensors.TensorSpan<float>(tensors, [Batch, 2, M]), _cache);
        Assert.Equal(spans, tensors);
        Assert.Equal(Past + 2, _cache.Length);
        _cache.Truncate(Past);

        Array.Fill(tensors, 7f);
        var e = Assert.Throws<ArgumentException>(() => _layer.Forward(new System.Numerics.Tensors.ReadOnlyTensorSpan<float>(next, [Batch, 2, M]),
            new System.Numerics.Tensors.TensorSpan<float>(tensors, [Batch * 2, M]), _cache));
        Assert.Equal("output", e.ParamName);
        Assert.All(tensors, v => Assert.Equal(7f, v));
        AssertCacheUnchanged();
    }

    // Runs a refused call with the output filled with a marker; checks the marker and the cache survive.
    private TException Refused<TException>(float[] input, float[] output, KvCache cache, int tokens) where TException : Exception
    {
        Array.Fill(output, 7f);
        TException e = Assert.Throws<TException>(() => _layer.Forward(input, output, cache, tokens));
        Assert.All(output, v => Assert.Equal(7f, v));
        AssertCacheUnchanged();
        return e;
    }

    // The length is unchanged and the cached positions are intact: the next step gives what a fresh replay gives.
    private void AssertCacheUnchanged()
    {
        Assert.Equal(Past, _cache.Length);
        float[] next = TestData.Uniform(Batch * M, 44);
        var step = new float[Batch * M];
        _layer.Forward(next, step, _cache, 1);
        _cache.Truncate(Past);

        using KvCache fresh = _layer.CreateCache(Batch);
        CachedForwardTests.Decode(_layer, fresh, _history, Past, [Past]);
        var expected = new float[Batch * M];
        _layer.Forward(next, expected, fresh, 1);
        Assert.Equal(expected, step);
    }
}
