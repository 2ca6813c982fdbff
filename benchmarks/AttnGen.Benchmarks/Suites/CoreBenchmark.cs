using AttnGen.Benchmarks.Contenders;
using AttnGen.Benchmarks.Generic;
using AttnGen.Benchmarks.Infrastructure;
using AttnGen.Benchmarks.Layers;
using AttnGen.Benchmarks.Onnx;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Suites;

/// <summary>
/// One attention-core shape (batch 1, one thread), plain and causal, every contender in one class so the
/// ratios to the generated kernel come from one run. Each GlobalSetup builds only its contender and
/// checks it against the naive loops.
/// </summary>
/// <typeparam name="TPlain">The generated core for the shape.</typeparam>
/// <typeparam name="TCausal">The generated causal core for the same shape.</typeparam>
public abstract class CoreBenchmark<TPlain, TCausal>(int heads, int seqLen, int headDim) : ShapeBenchmark<IAttentionLayer>, IFlopCount
    where TPlain : class, IAttentionLayer, new()
    where TCausal : class, IAttentionLayer, new()
{
    private const int Batch = 1;

    private float[] _q = [], _k = [], _v = [], _output = [], _expected = [];
    private GenericAttention? _generic;
    private TensorPrimitivesAttention? _tensorPrimitives;
    private NaiveAttention? _naive;

    /// <summary>Causal mask (query i sees keys 0..i).</summary>
    [Params(false, true)]
    public bool Causal { get; set; }

    private AttentionShape Shape => new(heads, seqLen, headDim, Causal);

    public double NominalFlops(BenchmarkCase benchmarkCase) => FlopCount.Core(heads, seqLen, headDim, Batch);

    protected override void Prepare()
    {
        int length = Batch * Shape.SequenceLength;
        _q = TestData.Uniform(length, 1);
        _k = TestData.Uniform(length, 2);
        _v = TestData.Uniform(length, 3);
        _output = new float[length];
        _expected = new float[length];
        _naive = new NaiveAttention(Shape);
        _naive.Forward(_q, _k, _v, _expected, Batch);
    }

    protected override IAttentionLayer NewGenerated(KernelIsa isa) =>
        Causal ? LayerKnobs.Create<TCausal>(isa, threads: 1) : LayerKnobs.Create<TPlain>(isa, threads: 1);

    protected override void Invoke(IAttentionLayer layer) => layer.Forward(_q, _k, _v, _output, Batch);

    protected override void Verify(string name, Action contender) => Accuracy.Verify($"{Accuracy.ClassName(this)} {name}", contender, _output, _expected);

    [GlobalSetup(Target = nameof(Generic))]
    public void SetupGeneric()
    {
        Prepare();
        _generic = new GenericAttention(heads, seqLen, headDim, Causal);
        Verify($"Generic ({GenericAttention.VectorWidth})", Generic);
    }

    [GlobalSetup(Target = nameof(TensorPrimitives))]
    public void SetupTensorPrimitives()
    {
        Prepare();
        _tensorPrimitives = new TensorPrimitivesAttention(Shape);
        Verify("TensorPrimitives", TensorPrimitives);
    }

    [GlobalSetup(Target = nameof(Naive))]
    public void SetupNaive()
    {
        Prepare();
        Verify("Naive", Naive);
    }

    protected override OrtRunner CreateOrt(OrtAttentionOp op)
    {
        long[] dims = [Batch, seqLen, Shape.Width];
        return OrtContender.Create($"{Accuracy.ClassName(this)} ORT {op}", Causal, mode => AttentionModels.Core(op, Shape, Batch, mode),
            [("q", _q, dims), ("k", _k, dims), ("v", _v, dims)], ("y", _output, dims), _expected);
    }

    [Benchmark(Description = "Generic (runtime shapes)")]
    public void Generic() => _generic!.Forward(_q, _k, _v, _output, Batch);

    [Benchmark(Description = "TensorPrimitives")]
    public void TensorPrimitives() => _tensorPrimitives!.Forward(_q, _k, _v, _output, Batch);

    [Benchmark(Description = "Naive loops")]
    public void Naive() => _naive!.Forward(_q, _k, _v, _output, Batch);
}
