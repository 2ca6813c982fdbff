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
public abstract class CoreBenchmark<TPlain, TCausal>(int heads, int seqLen, int headDim) : IFlopCount
    where TPlain : class, IAttentionLayer, new()
    where TCausal : class, IAttentionLayer, new()
{
    private const int Batch = 1;

    private float[] _q = [], _k = [], _v = [], _output = [], _expected = [];
    private IAttentionLayer? _generated;
    private readonly IAttentionLayer?[] _byIsa = new IAttentionLayer?[Enum.GetValues<KernelIsa>().Length];
    private GenericAttention? _generic;
    private TensorPrimitivesAttention? _tensorPrimitives;
    private NaiveAttention? _naive;
    private OrtRunner? _ort;

    /// <summary>Causal mask (query i sees keys 0..i).</summary>
    [Params(false, true)]
    public bool Causal { get; set; }

    private AttentionShape Shape => new(heads, seqLen, headDim, Causal);

    public double NominalFlops(BenchmarkCase benchmarkCase) => FlopCount.Core(heads, seqLen, headDim, Batch);

    private void PrepareInputs()
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

    private IAttentionLayer NewGenerated(KernelIsa isa) =>
        Causal ? LayerKnobs.Create<TCausal>(isa, threads: 1) : LayerKnobs.Create<TPlain>(isa, threads: 1);

    private void Verify(string name, Action contender) => Accuracy.Verify($"{Accuracy.ClassName(this)} {name}", contender, _output, _expected);

    [GlobalSetup(Target = nameof(Generated))]
    public void SetupGenerated()
    {
        PrepareInputs();
        _generated = NewGenerated(LayerKnobs.DefaultIsa);
        Verify($"Generated ({LayerKnobs.DefaultIsa})", Generated);
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
        PrepareInputs();
        IAttentionLayer layer = _byIsa[(int)isa] = NewGenerated(isa);
        Verify($"Generated ({isa})", () => layer.Forward(_q, _k, _v, _output, Batch));
    }

    [GlobalSetup(Target = nameof(Generic))]
    public void SetupGeneric()
    {
        PrepareInputs();
        _generic = new GenericAttention(heads, seqLen, headDim, Causal);
        Verify($"Generic ({GenericAttention.VectorWidth})", Generic);
    }

    [GlobalSetup(Target = nameof(TensorPrimitives))]
    public void SetupTensorPrimitives()
    {
        PrepareInputs();
        _tensorPrimitives = new TensorPrimitivesAttention(Shape);
        Verify("TensorPrimitives", TensorPrimitives);
    }

    [GlobalSetup(Target = nameof(Naive))]
    public void SetupNaive()
    {
        PrepareInputs();
        Verify("Naive", Naive);
    }

    [GlobalSetup(Target = nameof(Ort_Attention23))]
    public void SetupOrtAttention23() => SetupOrt(OrtAttentionOp.Attention23);

    [GlobalSetup(Target = nameof(Ort_MultiHeadAttention))]
    public void SetupOrtMultiHeadAttention() => SetupOrt(OrtAttentionOp.MultiHeadAttention);

    private void SetupOrt(OrtAttentionOp op)
    {
        PrepareInputs();
        long[] dims = [Batch, seqLen, Shape.Width];
        _ort = OrtContender.Create($"{Accuracy.ClassName(this)} ORT {op}", Causal, mode => AttentionModels.Core(op, Shape, Batch, mode),
            [("q", _q, dims), ("k", _k, dims), ("v", _v, dims)], ("y", _output, dims), _expected);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _generated?.Dispose();
        foreach (IAttentionLayer? layer in _byIsa)
        {
            layer?.Dispose();
        }
        Array.Clear(_byIsa);
        _ort?.Dispose();
        _generated = null;
        _ort = null;
    }

    [Benchmark(Baseline = true, Description = "Generated")]
    public void Generated() => _generated!.Forward(_q, _k, _v, _output, Batch);

    [Benchmark(Description = "Generated, Scalar path"), IsaVariant(KernelIsa.Scalar)]
    public void Generated_Scalar() => _byIsa[(int)KernelIsa.Scalar]!.Forward(_q, _k, _v, _output, Batch);

    [Benchmark(Description = "Generated, Vector128 path"), IsaVariant(KernelIsa.Vector128)]
    public void Generated_Vector128() => _byIsa[(int)KernelIsa.Vector128]!.Forward(_q, _k, _v, _output, Batch);

    [Benchmark(Description = "Generated, Avx2 path"), IsaVariant(KernelIsa.Avx2)]
    public void Generated_Avx2() => _byIsa[(int)KernelIsa.Avx2]!.Forward(_q, _k, _v, _output, Batch);

    [Benchmark(Description = "Generated, Avx512 path"), IsaVariant(KernelIsa.Avx512)]
    public void Generated_Avx512() => _byIsa[(int)KernelIsa.Avx512]!.Forward(_q, _k, _v, _output, Batch);

    [Benchmark(Description = "Generic (runtime shapes)")]
    public void Generic() => _generic!.Forward(_q, _k, _v, _output, Batch);

    [Benchmark(Description = "TensorPrimitives")]
    public void TensorPrimitives() => _tensorPrimitives!.Forward(_q, _k, _v, _output, Batch);

    [Benchmark(Description = "Naive loops")]
    public void Naive() => _naive!.Forward(_q, _k, _v, _output, Batch);

    [Benchmark(Description = "ORT Attention (opset 23)")]
    public void Ort_Attention23() => _ort!.Run();

    [Benchmark(Description = "ORT com.microsoft.MultiHeadAttention")]
    public void Ort_MultiHeadAttention() => _ort!.Run();
}
