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
    private Layer_8x128x64? _generated;
    private GenericLayer? _generic;
    private float[] _x = [], _y = [];

    public double NominalFlops(BenchmarkCase benchmarkCase) => FlopCount.Layer(Heads, SeqLen, HeadDim, ModelDim, Batch);

    private LayerFixture<Layer_8x128x64> Prepare()
    {
        _fixture = new LayerFixture<Layer_8x128x64>(new AttentionShape(Heads, SeqLen, HeadDim, false), ModelDim, Batch);
        _x = _fixture.Input;
        _y = _fixture.Output;
        return _fixture;
    }

    [GlobalSetup(Targets = [nameof(Generated_1Thread), nameof(Generated_2Threads)])]
    public void SetupGenerated()
    {
        LayerFixture<Layer_8x128x64> f = Prepare();
        int threads = LayerKnobs.Available ? 2 : 1;
        _generated = f.NewGenerated(LayerKnobs.DefaultIsa, threads);
        f.Verify($"{nameof(LayerThreads_H8_S128_D64_M512_B8)} Generated ({threads} thread(s))", () => _generated.Forward(_x, _y, Batch));
    }

    [GlobalSetup(Targets = [nameof(Generic_1Thread), nameof(Generic_2Threads)])]
    public void SetupGeneric()
    {
        LayerFixture<Layer_8x128x64> f = Prepare();
        _generic = f.NewGeneric(threads: 2);
        f.Verify($"{nameof(LayerThreads_H8_S128_D64_M512_B8)} Generic (2 threads)", () => _generic.Forward(_x, _y, Batch));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _generated?.Dispose();
        _fixture?.Dispose();
        _generated = null;
        _fixture = null;
    }

    [Benchmark(Baseline = true, Description = "Generated, 1 thread")]
    public void Generated_1Thread()
    {
        SetGeneratedThreads(1);
        _generated!.Forward(_x, _y, Batch);
    }

    [Benchmark(Description = "Generated, 2 threads"), Threads(2), RequiresThreadKnob]
    public void Generated_2Threads()
    {
        SetGeneratedThreads(2);
        _generated!.Forward(_x, _y, Batch);
    }

    [Benchmark(Description = "Generic, 1 thread")]
    public void Generic_1Thread()
    {
        _generic!.MaxDegreeOfParallelism = 1;
        _generic.Forward(_x, _y, Batch);
    }

    [Benchmark(Description = "Generic, 2 threads"), Threads(2)]
    public void Generic_2Threads()
    {
        _generic!.MaxDegreeOfParallelism = 2;
        _generic.Forward(_x, _y, Batch);
    }

    private void SetGeneratedThreads(int threads) => LayerKnobs.Apply(_generated!, LayerKnobs.DefaultIsa, threads);
}
