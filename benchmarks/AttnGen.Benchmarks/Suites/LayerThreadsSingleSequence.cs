using AttnGen.Benchmarks.Contenders;
using AttnGen.Benchmarks.Infrastructure;
using AttnGen.Benchmarks.Layers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Suites;

/// <summary>
/// One sequence (batch 1) through a full layer on one thread against two: with two threads both workers share the
/// sequence (projection panels, then the heads' query tiles, then the output projection's panels).
/// </summary>
public abstract class LayerThreadsSingleSequence<TLayer> : IFlopCount
    where TLayer : class, IFullLayer, new()
{
    private LayerFixture<TLayer>? _fixture;
    private TLayer? _one, _two;
    private float[] _x = [], _y = [];

    /// <summary>The layer's heads, sequence length and head dim.</summary>
    protected abstract AttentionShape Shape { get; }

    private const int ModelDim = 512;

    public double NominalFlops(BenchmarkCase benchmarkCase) => FlopCount.Layer(Shape.Heads, Shape.SeqLen, Shape.HeadDim, ModelDim, 1);

    private LayerFixture<TLayer> Prepare()
    {
        _fixture?.Dispose();
        _fixture = new LayerFixture<TLayer>(Shape, ModelDim, 1);
        _x = _fixture.Input;
        _y = _fixture.Output;
        return _fixture;
    }

    [GlobalSetup(Target = nameof(Generated_1Thread))]
    public void SetupOne()
    {
        LayerFixture<TLayer> f = Prepare();
        _one = f.NewGenerated(LayerKnobs.DefaultIsa, threads: 1);
        f.Verify($"{GetType().Name} Generated (1 thread)", Generated_1Thread);
    }

    [GlobalSetup(Target = nameof(Generated_2Threads))]
    public void SetupTwo()
    {
        LayerFixture<TLayer> f = Prepare();
        _two = f.NewGenerated(LayerKnobs.DefaultIsa, threads: 2);
        f.Verify($"{GetType().Name} Generated (2 threads)", Generated_2Threads);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _one?.Dispose();
        _two?.Dispose();
        _fixture?.Dispose();
        _one = _two = null;
        _fixture = null;
    }

    [Benchmark(Baseline = true, Description = "Generated, 1 thread")]
    public void Generated_1Thread() => _one!.Forward(_x, _y, 1);

    [Benchmark(Description = "Generated, 2 threads"), Threads(2)]
    public void Generated_2Threads() => _two!.Forward(_x, _y, 1);
}

/// <summary>The 8 x 128 x 64 (ModelDim 512) layer, batch 1, on one thread against two.</summary>
public class LayerThreads_H8_S128_D64_M512_B1 : LayerThreadsSingleSequence<Layer_8x128x64>
{
    protected override AttentionShape Shape => new(8, 128, 64, false);
}

/// <summary>The 8 x 512 x 64 (ModelDim 512) layer, batch 1, on one thread against two.</summary>
public class LayerThreads_H8_S512_D64_M512_B1 : LayerThreadsSingleSequence<Layer_8x512x64>
{
    protected override AttentionShape Shape => new(8, 512, 64, false);
}
