using AttnGen.Benchmarks.Contenders;
using AttnGen.Benchmarks.Infrastructure;
using AttnGen.Benchmarks.Layers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Suites;

/// <summary>
/// One sequence (batch 1) through a full layer's <c>ForwardTrain</c> and <c>Backward</c> on one thread against two:
/// with two threads both workers share the sequence (the forward's phases, then the backward's: the output
/// projection's column blocks, the attention core's key/value heads, the input projections' column blocks). The
/// two-thread setup checks that the input and parameter gradients are the bits of one thread.
/// </summary>
public abstract class TrainingThreadsSingleSequence<TLayer> : IFlopCount
    where TLayer : class, IFullLayer, new()
{
    private LayerFixture<TLayer>? _fixture;
    private TLayer? _layer;
    private float[] _x = [], _y = [], _dy = [], _dx = [];

    /// <summary>The layer's heads, sequence length and head dim.</summary>
    protected abstract AttentionShape Shape { get; }

    private const int ModelDim = 512;

    public double NominalFlops(BenchmarkCase benchmarkCase) =>
        FlopCount.TrainingStep(Shape.Heads, Shape.SeqLen, Shape.HeadDim, ModelDim, 1);

    private void Setup(int threads)
    {
        _fixture?.Dispose();
        _fixture = new LayerFixture<TLayer>(Shape, ModelDim, 1);
        _x = _fixture.Input;
        _y = _fixture.Output;
        _dy = TestData.Uniform(_y.Length, 23);
        _dx = new float[_x.Length];
        _layer = _fixture.NewGenerated(LayerKnobs.DefaultIsa, threads: 1);
        Pass();
        float[] dx = (float[])_dx.Clone(), gradients = _layer.GradientBlock.ToArray();
        _layer.MaxDegreeOfParallelism = threads;
        Pass();
        if (!dx.AsSpan().SequenceEqual(_dx) || !gradients.AsSpan().SequenceEqual(_layer.GradientBlock))
        {
            throw new InvalidOperationException($"{GetType().Name}: {threads} threads do not give the gradients of one thread.");
        }
    }

    // ForwardTrain and Backward of the one sequence, from zeroed parameter gradients.
    private void Pass()
    {
        _layer!.ZeroGradients();
        _layer.ForwardTrain(_x, _y, 1);
        _layer.Backward(_dy, _dx, 1);
    }

    [GlobalSetup(Target = nameof(Generated_1Thread))]
    public void SetupOne() => Setup(1);

    [GlobalSetup(Target = nameof(Generated_2Threads))]
    public void SetupTwo() => Setup(2);

    [GlobalCleanup]
    public void Cleanup()
    {
        _layer?.Dispose();
        _fixture?.Dispose();
        _layer = null;
        _fixture = null;
    }

    [Benchmark(Baseline = true, Description = "Generated, 1 thread")]
    public void Generated_1Thread() => Pass();

    [Benchmark(Description = "Generated, 2 threads"), Threads(2)]
    public void Generated_2Threads() => Pass();
}

/// <summary>The 8 x 512 x 64 (ModelDim 512) layer, batch 1: ForwardTrain and Backward on one thread against two.</summary>
public class TrainingThreads_H8_S512_D64_M512_B1 : TrainingThreadsSingleSequence<Layer_8x512x64>
{
    protected override AttentionShape Shape => new(8, 512, 64, false);
}
