using AttnGen.Benchmarks.Contenders;
using AttnGen.Benchmarks.Generic;
using AttnGen.Benchmarks.Infrastructure;
using AttnGen.Benchmarks.Layers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Suites;

/// <summary>
/// The 8 x 128 x 64 (ModelDim 512) layer on a batch of 8: one thread against two, for the generated
/// layer and the runtime-shape layer.
/// </summary>
public class LayerThreads_H8_S128_D64_M512_B8 : IFlopCount
{
    private const int Heads = 8, SeqLen = 128, HeadDim = 64, ModelDim = 512, Batch = 8;

    private LayerFixture<Layer_8x128x64>? _fixture;
    private Layer_8x128x64? _generated1, _generated2;
    private GenericLayer? _generic1, _generic2;
    private float[] _x = [], _y = [];

    public double NominalFlops(BenchmarkCase benchmarkCase) => FlopCount.Layer(Heads, SeqLen, HeadDim, ModelDim, Batch);

    private LayerFixture<Layer_8x128x64> Prepare()
    {
        _fixture?.Dispose();
        _fixture = new LayerFixture<Layer_8x128x64>(new AttentionShape(Heads, SeqLen, HeadDim, false), ModelDim, Batch);
        _x = _fixture.Input;
        _y = _fixture.Output;
        return _fixture;
    }

    private static string Name(string contender) => $"{nameof(LayerThreads_H8_S128_D64_M512_B8)} {contender}";

    [GlobalSetup(Target = nameof(Generated_1Thread))]
    public void SetupGenerated1()
    {
        LayerFixture<Layer_8x128x64> f = Prepare();
        _generated1 = f.NewGenerated(LayerKnobs.DefaultIsa, threads: 1);
        f.Verify(Name("Generated (1 thread)"), Generated_1Thread);
    }

    [GlobalSetup(Target = nameof(Generated_2Threads))]
    public void SetupGenerated2()
    {
        LayerFixture<Layer_8x128x64> f = Prepare();
        _generated2 = f.NewGenerated(LayerKnobs.DefaultIsa, threads: 2);
        f.Verify(Name("Generated (2 threads)"), Generated_2Threads);
    }

    [GlobalSetup(Target = nameof(Generic_1Thread))]
    public void SetupGeneric1()
    {
        LayerFixture<Layer_8x128x64> f = Prepare();
        _generic1 = f.NewGeneric(threads: 1);
        f.Verify(Name("Generic (1 thread)"), Generic_1Thread);
    }

    [GlobalSetup(Target = nameof(Generic_2Threads))]
    public void SetupGeneric2()
    {
        LayerFixture<Layer_8x128x64> f = Prepare();
        _generic2 = f.NewGeneric(threads: 2);
        f.Verify(Name("Generic (2 threads)"), Generic_2Threads);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _generated1?.Dispose();
        _generated2?.Dispose();
        _fixture?.Dispose();
        _generated1 = _generated2 = null;
        _fixture = null;
    }

    [Benchmark(Baseline = true, Description = "Generated, 1 thread")]
    public void Generated_1Thread() => _generated1!.Forward(_x, _y, Batch);

    [Benchmark(Description = "Generated, 2 threads"), Threads(2)]
    public void Generated_2Threads() => _generated2!.Forward(_x, _y, Batch);

    [Benchmark(Description = "Generic, 1 thread")]
    public void Generic_1Thread() => _generic1!.Forward(_x, _y, Batch);

    [Benchmark(Description = "Generic, 2 threads"), Threads(2)]
    public void Generic_2Threads() => _generic2!.Forward(_x, _y, Batch);
}
