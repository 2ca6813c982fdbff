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
public abstract class LayerBenchmark<TLayer>(int heads, int seqLen, int headDim, int modelDim, int[] batches) : IFlopCount
    where TLayer : class, IFullLayer, new()
{
    private LayerFixture<TLayer>? _fixture;
    private TLayer? _generated;
    private readonly TLayer?[] _byIsa = new TLayer?[Enum.GetValues<KernelIsa>().Length];
    private GenericLayer? _generic;
    private ComposedLayer? _tensorPrimitives;
    private ComposedLayer? _naive;
    private OrtRunner? _ort;
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

    private LayerFixture<TLayer> Prepare()
    {
        _fixture?.Dispose();
        _fixture = new LayerFixture<TLayer>(Shape, modelDim, Batch);
        _x = _fixture.Input;
        _y = _fixture.Output;
        return _fixture;
    }

    private string Name(string contender) => $"{Accuracy.ClassName(this)} batch {Batch} {contender}";

    [GlobalSetup(Target = nameof(Generated))]
    public void SetupGenerated()
    {
        LayerFixture<TLayer> f = Prepare();
        _generated = f.NewGenerated(LayerKnobs.DefaultIsa, threads: 1);
        f.Verify(Name($"Generated ({LayerKnobs.DefaultIsa})"), Generated);
    }

    [GlobalSetup(Target = nameof(Generated_Scalar))]
    public void SetupGeneratedScalar() => SetupIsa(KernelIsa.Scalar);

    [GlobalSetup(Target = nameof(Generated_Vector128))]
    public void SetupGeneratedVector128() => SetupIsa(KernelIsa.Vector128);

    [GlobalSetup(Target = nameof(Generated_Avx2))]
    public void SetupGeneratedAvx2() => SetupIsa(KernelIsa.Avx2);

    [GlobalSetup(Target = nameof(Generated_Avx512))]
    public void SetupGeneratedAvx512() => SetupIsa(KernelIsa.Avx512);

    private void SetupIsa(KernelIsa isa)
    {
        LayerFixture<TLayer> f = Prepare();
        TLayer layer = _byIsa[(int)isa] = f.NewGenerated(isa, threads: 1);
        f.Verify(Name($"Generated ({isa})"), () => layer.Forward(_x, _y, Batch));
    }

    [GlobalSetup(Target = nameof(Generic))]
    public void SetupGeneric()
    {
        LayerFixture<TLayer> f = Prepare();
        _generic = f.NewGeneric(threads: 1);
        f.Verify(Name($"Generic ({GenericAttention.VectorWidth})"), Generic);
    }

    [GlobalSetup(Target = nameof(TensorPrimitives))]
    public void SetupTensorPrimitives()
    {
        LayerFixture<TLayer> f = Prepare();
        _tensorPrimitives = ComposedLayer.WithTensorPrimitives(Shape, modelDim, f.InProjWeight, f.InProjBias, f.OutProjWeight, f.OutProjBias);
        f.Verify(Name("TensorPrimitives"), TensorPrimitives);
    }

    [GlobalSetup(Target = nameof(Naive))]
    public void SetupNaive()
    {
        LayerFixture<TLayer> f = Prepare();
        _naive = ComposedLayer.Naive(Shape, modelDim, f.InProjWeight, f.InProjBias, f.OutProjWeight, f.OutProjBias);
        f.Verify(Name("Naive"), Naive);
    }

    [GlobalSetup(Target = nameof(Ort_Attention23))]
    public void SetupOrtAttention23() => SetupOrt(OrtAttentionOp.Attention23);

    [GlobalSetup(Target = nameof(Ort_MultiHeadAttention))]
    public void SetupOrtMultiHeadAttention() => SetupOrt(OrtAttentionOp.MultiHeadAttention);

    private void SetupOrt(OrtAttentionOp op)
    {
        LayerFixture<TLayer> f = Prepare();
        byte[] model = AttentionModels.Layer(op, Shape, modelDim, Batch, OrtCausalMode.None, f.InProjWeight, f.InProjBias, f.OutProjWeight, f.OutProjBias);
        long[] dims = [Batch, seqLen, modelDim];
        _ort = OrtContender.Create(Name($"ORT {op} layer"), causal: false, _ => model, [("x", _x, dims)], ("y", _y, dims), f.Expected);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _generated?.Dispose();
        foreach (TLayer? layer in _byIsa)
        {
            layer?.Dispose();
        }
        Array.Clear(_byIsa);
        _ort?.Dispose();
        _fixture?.Dispose();
        _generated = null;
        _ort = null;
        _fixture = null;
    }

    [Benchmark(Baseline = true, Description = "Generated")]
    public void Generated() => _generated!.Forward(_x, _y, Batch);

    [Benchmark(Description = "Generated, Scalar path"), IsaVariant(KernelIsa.Scalar)]
    public void Generated_Scalar() => _byIsa[(int)KernelIsa.Scalar]!.Forward(_x, _y, Batch);

    [Benchmark(Description = "Generated, Vector128 path"), IsaVariant(KernelIsa.Vector128)]
    public void Generated_Vector128() => _byIsa[(int)KernelIsa.Vector128]!.Forward(_x, _y, Batch);

    [Benchmark(Description = "Generated, Avx2 path"), IsaVariant(KernelIsa.Avx2)]
    public void Generated_Avx2() => _byIsa[(int)KernelIsa.Avx2]!.Forward(_x, _y, Batch);

    [Benchmark(Description = "Generated, Avx512 path"), IsaVariant(KernelIsa.Avx512)]
    public void Generated_Avx512() => _byIsa[(int)KernelIsa.Avx512]!.Forward(_x, _y, Batch);

    [Benchmark(Description = "Generic (runtime shapes)")]
    public void Generic() => _generic!.Forward(_x, _y, Batch);

    [Benchmark(Description = "TensorPrimitives")]
    public void TensorPrimitives() => _tensorPrimitives!.Forward(_x, _y, Batch);

    [Benchmark(Description = "Naive loops")]
    public void Naive() => _naive!.Forward(_x, _y, Batch);

    [Benchmark(Description = "ORT MatMul+Add + Attention (opset 23)")]
    public void Ort_Attention23() => _ort!.Run();

    [Benchmark(Description = "ORT MatMul+Add + com.microsoft.MultiHeadAttention")]
    public void Ort_MultiHeadAttention() => _ort!.Run();
}
