using AttnGen.Benchmarks.Contenders;
using AttnGen.Benchmarks.Generic;
using AttnGen.Benchmarks.Infrastructure;
using AttnGen.Benchmarks.Layers;
using AttnGen.Benchmarks.Onnx;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Suites;

/// <summary>
/// One full self-attention layer (q/k/v projections, core, output projection, biases), one thread,
/// every contender in one class. Each GlobalSetup builds only its contender and checks it against the
/// naive layer.
/// </summary>
/// <typeparam name="TLayer">The generated layer for the shape.</typeparam>
public abstract class LayerBenchmark<TLayer>(int heads, int seqLen, int headDim, int modelDim, int[] batches) : ShapeBenchmark<TLayer>, IFlopCount
    where TLayer : class, IFullLayer, new()
{
    private LayerFixture<TLayer>? _fixture;
    private GenericLayer? _generic;
    private ComposedLayer? _tensorPrimitives;
    private ComposedLayer? _naive;
    private float[] _x = [], _y = [];

    /// <summary>Sequences per call.</summary>
    [ParamsSource(nameof(Batches))]
    public int Batch { get; set; } = 1;

    /// <summary>The batch sizes this shape is measured at.</summary>
    public IEnumerable<int> Batches => batches;

    private AttentionShape Shape => new(heads, seqLen, headDim, Causal: false);

    public double NominalFlops(BenchmarkCase benchmarkCase)
    {
        int batch = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == nameof(Batch))?.Value as int? ?? 1;
        return FlopCount.Layer(heads, seqLen, headDim, modelDim, batch);
    }

    protected override void Prepare() => Fixture();

    protected override TLayer NewGenerated(KernelIsa isa) => _fixture!.NewGenerated(isa, threads: 1);

    protected override void Invoke(TLayer layer) => layer.Forward(_x, _y, Batch);

    protected override void Verify(string name, Action contender) => _fixture!.Verify(Name(name), contender);

    private LayerFixture<TLayer> Fixture()
    {
        _fixture?.Dispose();
        _fixture = new LayerFixture<TLayer>(Shape, modelDim, Batch);
        _x = _fixture.Input;
        _y = _fixture.Output;
        return _fixture;
    }

    private string Name(string contender) => $"{Accuracy.ClassName(this)} batch {Batch} {contender}";

    [GlobalSetup(Target = nameof(Generic))]
    public void SetupGeneric()
    {
        LayerFixture<TLayer> f = Fixture();
        _generic = f.NewGeneric(threads: 1);
        Verify($"Generic ({GenericAttention.VectorWidth})", Generic);
    }

    [GlobalSetup(Target = nameof(TensorPrimitives))]
    public void SetupTensorPrimitives()
    {
        LayerFixture<TLayer> f = Fixture();
        _tensorPrimitives = ComposedLayer.WithTensorPrimitives(Shape, modelDim, f.InProjWeight, f.InProjBias, f.OutProjWeight, f.OutProjBias);
        Verify("TensorPrimitives", TensorPrimitives);
    }

    [GlobalSetup(Target = nameof(Naive))]
    public void SetupNaive()
    {
        LayerFixture<TLayer> f = Fixture();
        _naive = ComposedLayer.Naive(Shape, modelDim, f.InProjWeight, f.InProjBias, f.OutProjWeight, f.OutProjBias);
        Verify("Naive", Naive);
    }

    protected override OrtRunner CreateOrt(OrtAttentionOp op)
    {
        LayerFixture<TLayer> f = _fixture!;
        byte[] model = AttentionModels.Layer(op, Shape, modelDim, Batch, OrtCausalMode.None, f.InProjWeight, f.InProjBias, f.OutProjWeight, f.OutProjBias);
        long[] dims = [Batch, seqLen, modelDim];
        return OrtContender.Create(Name($"ORT {op} layer"), causal: false, _ => model, [("x", _x, dims)], ("y", _y, dims), f.Expected);
    }

    protected override void CleanupContenders()
    {
        _fixture?.Dispose();
        _fixture = null;
    }

    [Benchmark(Description = "Generic (runtime shapes)")]
    public void Generic() => _generic!.Forward(_x, _y, Batch);

    [Benchmark(Description = "TensorPrimitives")]
    public void TensorPrimitives() => _tensorPrimitives!.Forward(_x, _y, Batch);

    [Benchmark(Description = "Naive loops")]
    public void Naive() => _naive!.Forward(_x, _y, Batch);
}
