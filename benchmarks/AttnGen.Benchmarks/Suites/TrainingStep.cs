using AttnGen.Benchmarks.Contenders;
using AttnGen.Benchmarks.Generic;
using AttnGen.Benchmarks.Infrastructure;
using AttnGen.Benchmarks.Layers;
using AttnGen.Training;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Suites;

/// <summary>
/// One training step of the full 8 x 128 x 64 layer (ModelDim 512, biases) on a batch of 8: zero the gradients,
/// <c>ForwardTrain</c>, the mean-squared-error gradient against a fixed target, <c>Backward</c> (input and
/// parameter gradients) and an AdamW update, all through the runtime's <see cref="MeanSquaredError"/>,
/// <see cref="ParameterSet"/> and <see cref="AdamW"/>. The generated layer against the same step on the
/// runtime-shape layer (<see cref="GenericTrainingLayer"/>), on one thread and on the layer's default (one per
/// processor; the generic layer threads its ForwardTrain only). Each setup checks one pass (no update) against the input and
/// parameter gradients of the generated layer's scalar path, which the kernel tests hold to float64.
/// </summary>
public class TrainingStep_H8_S128_D64_M512_B8 : IFlopCount, ITokenCount
{
    private const int Heads = 8, SeqLen = 128, HeadDim = 64, ModelDim = 512, Batch = 8;
    private const float LearningRate = 1e-4f;

    private LayerFixture<Layer_8x128x64>? _fixture;
    private Layer_8x128x64? _generated;
    private GenericTrainingLayer? _generic;
    private AdamW? _optimizer;
    private Action? _pass;
    private float[] _x = [], _y = [], _target = [], _dy = [], _dx = [], _gradients = [], _expectedDx = [], _expectedGradients = [];

    public double NominalFlops(BenchmarkCase benchmarkCase) => FlopCount.TrainingStep(Heads, SeqLen, HeadDim, ModelDim, Batch);

    public string? FlopNote(BenchmarkCase benchmarkCase) => "forward + backward";

    public double Tokens(BenchmarkCase benchmarkCase) => Batch * SeqLen;

    private static string Name(string contender) => $"{nameof(TrainingStep_H8_S128_D64_M512_B8)} {contender}";

    /// <summary>Inputs, target and weights; the reference gradients from the generated layer's scalar path.</summary>
    private LayerFixture<Layer_8x128x64> Prepare()
    {
        _fixture?.Dispose();
        LayerFixture<Layer_8x128x64> f = _fixture = new LayerFixture<Layer_8x128x64>(new AttentionShape(Heads, SeqLen, HeadDim, false), ModelDim, Batch);
        _x = f.Input;
        _y = f.Output;
        _target = TestData.Uniform(_x.Length, 21);
        _dy = new float[_x.Length];
        _dx = new float[_x.Length];
        using Layer_8x128x64 reference = f.NewGenerated(KernelIsa.Scalar, threads: 1);
        ParameterSet set = ParametersOf(reference);
        _expectedDx = new float[_x.Length];
        _expectedGradients = new float[set.ElementCount];
        _gradients = new float[set.ElementCount];
        set.ZeroGradients();
        reference.ForwardTrain(_x, _y, Batch);
        MeanSquaredError.Compute(_y, _target, _dy);
        reference.Backward(_dy, _expectedDx, Batch);
        Flatten(set, _expectedGradients);
        return f;
    }

    private static ParameterSet ParametersOf(Layer_8x128x64 layer) =>
        new ParameterSet().AddBlock("", ((IAttentionLayer)layer).Parameters, () => layer.ParameterBlock, () => layer.GradientBlock);

    private static void Flatten(ParameterSet set, float[] destination)
    {
        int at = 0;
        foreach (Parameter p in set)
        {
            p.Gradient.CopyTo(destination.AsSpan(at));
            at += p.Length;
        }
    }

    /// <summary>Checks one step without the update (<paramref name="pass"/>), then registers the optimizer.</summary>
    private void Verify(string contender, ParameterSet set, Action pass)
    {
        _pass = pass;
        Accuracy.Verify(Name(contender), () =>
            {
                set.ZeroGradients();
                pass();
                Flatten(set, _gradients);
            },
            [("dX", _dx, _expectedDx), ("parameter gradients", _gradients, _expectedGradients)],
            "the generated scalar path");
        _optimizer = new AdamW(set, LearningRate);
    }

    private void SetupGenerated(int threads, string contender)
    {
        _generated = Prepare().NewGenerated(LayerKnobs.DefaultIsa, threads);
        Verify(contender, ParametersOf(_generated), GeneratedPass);
    }

    private void SetupGeneric(int threads, string contender)
    {
        LayerFixture<Layer_8x128x64> f = Prepare();
        _generic = new GenericTrainingLayer(Heads, SeqLen, HeadDim, ModelDim) { MaxDegreeOfParallelism = threads };
        _generic.LoadWeights(f.InProjWeight, f.InProjBias, f.OutProjWeight, f.OutProjBias);
        Verify(contender, _generic.Parameters, GenericPass);
    }

    private void GeneratedPass()
    {
        _generated!.ForwardTrain(_x, _y, Batch);
        MeanSquaredError.Compute(_y, _target, _dy);
        _generated.Backward(_dy, _dx, Batch);
    }

    private void GenericPass()
    {
        _generic!.ForwardTrain(_x, _y, Batch);
        MeanSquaredError.Compute(_y, _target, _dy);
        _generic.Backward(_dy, _dx, Batch);
    }

    [GlobalSetup(Target = nameof(Generated_1Thread))]
    public void SetupGenerated1() => SetupGenerated(1, $"Generated ({LayerKnobs.DefaultIsa}, 1 thread)");

    [GlobalSetup(Target = nameof(Generated_DefaultThreads))]
    public void SetupGeneratedDefault() => SetupGenerated(Environment.ProcessorCount, $"Generated ({LayerKnobs.DefaultIsa}, {Environment.ProcessorCount} threads)");

    [GlobalSetup(Target = nameof(Generic_1Thread))]
    public void SetupGeneric1() => SetupGeneric(1, $"Generic ({GenericAttention.VectorWidth}, 1 thread)");

    [GlobalSetup(Target = nameof(Generic_DefaultThreads))]
    public void SetupGenericDefault() => SetupGeneric(Environment.ProcessorCount, $"Generic ({GenericAttention.VectorWidth}, {Environment.ProcessorCount} threads)");

    [GlobalCleanup]
    public void Cleanup()
    {
        _optimizer?.Dispose();
        _generated?.Dispose();
        _generic?.Dispose();
        _fixture?.Dispose();
        _optimizer = null;
        _pass = null;
        _generated = null;
        _generic = null;
        _fixture = null;
    }

    /// <summary>The step: the setup chose the contender's pass (a delegate made once, so the step allocates nothing).</summary>
    private void Step()
    {
        _optimizer!.ZeroGrad();
        _pass!();
        _optimizer.Step();
    }

    [Benchmark(Baseline = true, Description = "Generated, 1 thread")]
    public void Generated_1Thread() => Step();

    [Benchmark(Description = "Generated, default threads"), Threads(ThreadsAttribute.ProcessorCount)]
    public void Generated_DefaultThreads() => Step();

    [Benchmark(Description = "Generic, 1 thread")]
    public void Generic_1Thread() => Step();

    [Benchmark(Description = "Generic, default threads"), Threads(ThreadsAttribute.ProcessorCount)]
    public void Generic_DefaultThreads() => Step();
}
