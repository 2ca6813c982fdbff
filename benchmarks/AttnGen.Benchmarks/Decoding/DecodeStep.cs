using AttnGen.Benchmarks.Infrastructure;
using AttnGen.Benchmarks.Onnx;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Decoding;

/// <summary>
/// One decoding step (one new token per sequence) at context 128, 1024 and 4096 in a 4096-position cache, batch 1
/// and 8: the runtime's decode kernel on one and two threads (the step's key/value append included) against ONNX
/// Runtime's GroupQueryAttention with shared past/present buffers on one thread.
/// </summary>
public abstract class DecodeStepBenchmark : IReadByteCount
{
    private const int Capacity = 4096;

    private DecodeFixture? _fixture;
    private KvCache? _cache;
    private DecodeAttention? _decoder;
    private OrtRunner? _ort;

    [Params(128, 1024, 4096)]
    public int Context { get; set; }

    [Params(1, 8)]
    public int Batch { get; set; }

    protected abstract int Heads { get; }

    protected abstract int KvHeads { get; }

    protected abstract int HeadDim { get; }

    public double BytesRead(BenchmarkCase benchmarkCase) => DecodeFixture.KvBytes(KvHeads, HeadDim,
        (int)benchmarkCase.Parameters[nameof(Batch)], (int)benchmarkCase.Parameters[nameof(Context)]);

    private DecodeFixture Prepare() => _fixture = new DecodeFixture(Heads, KvHeads, HeadDim, Batch, Context, Capacity);

    private string Name(string contender) => $"{Accuracy.ClassName(this)} context {Context} batch {Batch} {contender}";

    private void SetupAttnGen(int threads, Action step)
    {
        DecodeFixture f = Prepare();
        _cache = f.NewCache(Capacity);
        _decoder = new DecodeAttention(Heads, KvHeads, HeadDim, DecodeAttention.ScaleFor(AttentionScoring.ScaledDotProduct, HeadDim), maxTokens: 1);
        var output = new float[f.Expected.Length];
        Accuracy.Verify(Name($"AttnGen ({threads} thread(s))"), () => { step(); f.Output.CopyTo(output, 0); }, output, f.Expected);
    }

    [GlobalSetup(Target = nameof(AttnGen_1Thread))]
    public void Setup1() => SetupAttnGen(1, AttnGen_1Thread);

    [GlobalSetup(Target = nameof(AttnGen_2Threads))]
    public void Setup2() => SetupAttnGen(2, AttnGen_2Threads);

    [GlobalSetup(Target = nameof(Ort_GroupQueryAttention))]
    public void SetupOrt()
    {
        DecodeFixture f = Prepare();
        var output = new float[f.Expected.Length];
        _ort = f.NewOrt(output);
        Accuracy.Verify(Name("ORT GroupQueryAttention"), _ort.Run, [("output", output, f.Expected)], "the float64 step");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _ort?.Dispose();
        _cache?.Dispose();
        _decoder?.Dispose();
        _fixture?.Dispose();
        (_ort, _cache, _decoder, _fixture) = (null, null, null, null);
    }

    [Benchmark(Baseline = true, Description = "AttnGen decode, 1 thread")]
    public void AttnGen_1Thread() => _fixture!.Step(_cache!, _decoder!, 1);

    [Benchmark(Description = "AttnGen decode, 2 threads"), Threads(2)]
    public void AttnGen_2Threads() => _fixture!.Step(_cache!, _decoder!, 2);

    [Benchmark(Description = "ORT GroupQueryAttention, 1 thread")]
    public void Ort_GroupQueryAttention() => _ort!.Run();
}

/// <summary>32 query heads over 8 key/value heads of 128 (Llama-style grouped-query attention, G = 4).</summary>
public class Decode_H32_Kv8_D128 : DecodeStepBenchmark
{
    protected override int Heads => 32;

    protected override int KvHeads => 8;

    protected override int HeadDim => 128;
}

/// <summary>8 heads of 64, one key/value head each (multi-head attention, G = 1).</summary>
public class Decode_H8_D64 : DecodeStepBenchmark
{
    protected override int Heads => 8;

    protected override int KvHeads => 8;

    protected override int HeadDim => 64;
}

/// <summary>
/// Step cost follows the length, not the capacity: the same step at length 128 in a 4096-position cache and in a
/// 128-position cache, 32 query / 8 key/value heads of 128, one thread.
/// </summary>
public class DecodeCapacity_H32_Kv8_D128 : IReadByteCount
{
    private const int Heads = 32, KvHeads = 8, HeadDim = 128, Context = 128;

    private DecodeFixture? _fixture;
    private KvCache? _cache;
    private DecodeAttention? _decoder;

    [Params(1, 8)]
    public int Batch { get; set; }

    public double BytesRead(BenchmarkCase benchmarkCase) => DecodeFixture.KvBytes(KvHeads, HeadDim, (int)benchmarkCase.Parameters[nameof(Batch)], Context);

    private void Setup(int capacity, Action step)
    {
        _fixture = new DecodeFixture(Heads, KvHeads, HeadDim, Batch, Context, capacity);
        _cache = _fixture.NewCache(capacity);
        _decoder = new DecodeAttention(Heads, KvHeads, HeadDim, 1f / MathF.Sqrt(HeadDim), maxTokens: 1);
        var output = new float[_fixture.Expected.Length];
        DecodeFixture f = _fixture;
        Accuracy.Verify($"{nameof(DecodeCapacity_H32_Kv8_D128)} capacity {capacity} batch {Batch}", () => { step(); f.Output.CopyTo(output, 0); }, output, f.Expected);
    }

    [GlobalSetup(Target = nameof(Capacity128))]
    public void Setup128() => Setup(128, Capacity128);

    [GlobalSetup(Target = nameof(Capacity4096))]
    public void Setup4096() => Setup(4096, Capacity4096);

    [GlobalCleanup]
    public void Cleanup()
    {
        _cache?.Dispose();
        _decoder?.Dispose();
        _fixture?.Dispose();
        (_cache, _decoder, _fixture) = (null, null, null);
    }

    [Benchmark(Baseline = true, Description = "length 128, capacity 128")]
    public void Capacity128() => _fixture!.Step(_cache!, _decoder!, 1);

    [Benchmark(Description = "length 128, capacity 4096")]
    public void Capacity4096() => _fixture!.Step(_cache!, _decoder!, 1);
}
