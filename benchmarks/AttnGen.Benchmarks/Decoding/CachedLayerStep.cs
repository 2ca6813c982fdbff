using AttnGen.Benchmarks.Layers;
using BenchmarkDotNet.Attributes;

namespace AttnGen.Benchmarks.Decoding;

/// <summary>
/// A generated <c>KvCache = true</c> layer (8 query / 2 key-value heads of 64, ModelDim 512, capacity 1024): one
/// decoding step (batch 1, one thread) at context 128 and 1024, against recomputing the whole prefix with the full
/// causal Forward of a layer of that length (what a caller without a cache does for every new token).
/// </summary>
public class CachedStep_H8_Kv2_D64_M512
{
    private const int ModelDim = Decoder_8x1024x64_Kv2.ModelDim;

    private Decoder_8x1024x64_Kv2? _decoder;
    private Causal_8x128x64_Kv2? _short;
    private KvCache? _cache;
    private float[] _prefix = [], _prefixOutput = [], _token = [], _tokenOutput = [];

    [Params(128, 1024)]
    public int Context { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _decoder = new Decoder_8x1024x64_Kv2 { MaxDegreeOfParallelism = 1 };
        _decoder.ResetParameters(1);
        _short = new Causal_8x128x64_Kv2 { MaxDegreeOfParallelism = 1 };
        _decoder.ParameterBlock.CopyTo(_short.ParameterBlock);
        _prefix = Infrastructure.TestData.Uniform(Context * ModelDim, 2);
        _prefixOutput = new float[_prefix.Length];
        _token = _prefix.AsSpan((Context - 1) * ModelDim).ToArray();
        _tokenOutput = new float[ModelDim];
        _cache = _decoder.CreateCache(1);
        _decoder.Forward(_prefix.AsSpan(0, (Context - 1) * ModelDim), _prefixOutput.AsSpan(0, (Context - 1) * ModelDim), _cache, Context - 1);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _cache?.Dispose();
        _decoder?.Dispose();
        _short?.Dispose();
    }

    [Benchmark(Baseline = true, Description = "cached step (1 token)")]
    public void CachedStep()
    {
        _decoder!.Forward(_token, _tokenOutput, _cache!, 1);
        _cache!.Truncate(Context - 1);
    }

    [Benchmark(Description = "recompute the prefix (full causal Forward)")]
    public void Recompute()
    {
        if (Context == Decoder_8x1024x64_Kv2.SeqLen)
        {
            _decoder!.Forward(_prefix, _prefixOutput);
        }
        else
        {
            _short!.Forward(_prefix, _prefixOutput);
        }
    }
}

/// <summary>
/// Chunked prefill of 512 tokens through the cache (batch 1, one thread) against the plain causal Forward over the
/// same 512 tokens, for the same weights.
/// </summary>
public class Prefill512_H8_Kv2_D64_M512
{
    private const int Tokens = 512, ModelDim = Decoder_8x1024x64_Kv2.ModelDim;

    private Decoder_8x1024x64_Kv2? _decoder;
    private Causal_8x512x64_Kv2? _causal;
    private KvCache? _cache;
    private float[] _input = [], _output = [];

    [GlobalSetup]
    public void Setup()
    {
        _decoder = new Decoder_8x1024x64_Kv2 { MaxDegreeOfParallelism = 1 };
        _decoder.ResetParameters(1);
        _causal = new Causal_8x512x64_Kv2 { MaxDegreeOfParallelism = 1 };
        _decoder.ParameterBlock.CopyTo(_causal.ParameterBlock);
        _input = Infrastructure.TestData.Uniform(Tokens * ModelDim, 3);
        _output = new float[_input.Length];
        _cache = _decoder.CreateCache(1);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _cache?.Dispose();
        _decoder?.Dispose();
        _causal?.Dispose();
    }

    [Benchmark(Baseline = true, Description = "cached prefill, 512 tokens")]
    public void CachedPrefill()
    {
        _cache!.Reset();
        _decoder!.Forward(_input, _output, _cache, Tokens);
    }

    [Benchmark(Description = "causal Forward over 512")]
    public void CausalForward() => _causal!.Forward(_input, _output);
}
