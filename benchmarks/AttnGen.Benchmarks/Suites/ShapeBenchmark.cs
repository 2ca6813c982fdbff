using AttnGen.Benchmarks.Infrastructure;
using AttnGen.Benchmarks.Layers;
using AttnGen.Benchmarks.Onnx;
using BenchmarkDotNet.Attributes;

namespace AttnGen.Benchmarks.Suites;

/// <summary>
/// The contenders every shape class has: the generated layer on its default path (the baseline), one
/// variant per other instruction-set path, and the two ONNX Runtime models; each with its own setup that
/// builds and checks just that contender. A shape class supplies the inputs, how to build and call a
/// generated layer, the ONNX Runtime session and the accuracy check, and adds its own contenders.
/// </summary>
/// <typeparam name="TLayer">The generated layer type the shape class builds and calls.</typeparam>
public abstract class ShapeBenchmark<TLayer>
    where TLayer : class, IAttentionLayer
{
    private TLayer? _generated;
    private readonly TLayer?[] _byIsa = new TLayer?[Enum.GetValues<KernelIsa>().Length];
    private OrtRunner? _ort;

    /// <summary>Creates the inputs and the naive reference for the current parameters.</summary>
    protected abstract void Prepare();

    /// <summary>A generated layer ready to run (weights loaded) on <paramref name="isa"/>, one thread.</summary>
    protected abstract TLayer NewGenerated(KernelIsa isa);

    /// <summary>One Forward call of <paramref name="layer"/> on the prepared inputs.</summary>
    protected abstract void Invoke(TLayer layer);

    /// <summary>Runs <paramref name="contender"/> once and throws unless it matches the reference.</summary>
    protected abstract void Verify(string name, Action contender);

    /// <summary>An ONNX Runtime session over the prepared arrays, already checked against the reference.</summary>
    protected abstract OrtRunner CreateOrt(OrtAttentionOp op);

    /// <summary>Releases what the shape class's own contenders hold.</summary>
    protected virtual void CleanupContenders()
    {
    }

    [GlobalSetup(Target = nameof(Generated))]
    public void SetupGenerated()
    {
        Prepare();
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
        Prepare();
        TLayer layer = _byIsa[(int)isa] = NewGenerated(isa);
        Verify($"Generated ({isa})", () => Invoke(layer));
    }

    [GlobalSetup(Target = nameof(Ort_Attention23))]
    public void SetupOrtAttention23()
    {
        Prepare();
        _ort = CreateOrt(OrtAttentionOp.Attention23);
    }

    [GlobalSetup(Target = nameof(Ort_MultiHeadAttention))]
    public void SetupOrtMultiHeadAttention()
    {
        Prepare();
        _ort = CreateOrt(OrtAttentionOp.MultiHeadAttention);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _generated?.Dispose();
        _generated = null;
        foreach (TLayer? layer in _byIsa)
        {
            layer?.Dispose();
        }
        Array.Clear(_byIsa);
        _ort?.Dispose();
        _ort = null;
        CleanupContenders();
    }

    [Benchmark(Baseline = true, Description = "Generated")]
    public void Generated() => Invoke(_generated!);

    [Benchmark(Description = "Generated, Scalar path"), IsaVariant(KernelIsa.Scalar)]
    public void Generated_Scalar() => Invoke(_byIsa[(int)KernelIsa.Scalar]!);

    [Benchmark(Description = "Generated, Vector128 path"), IsaVariant(KernelIsa.Vector128)]
    public void Generated_Vector128() => Invoke(_byIsa[(int)KernelIsa.Vector128]!);

    [Benchmark(Description = "Generated, Avx2 path"), IsaVariant(KernelIsa.Avx2)]
    public void Generated_Avx2() => Invoke(_byIsa[(int)KernelIsa.Avx2]!);

    [Benchmark(Description = "Generated, Avx512 path"), IsaVariant(KernelIsa.Avx512)]
    public void Generated_Avx512() => Invoke(_byIsa[(int)KernelIsa.Avx512]!);

    // In the full-layer classes the ONNX model wraps the operator in MatMul + Add projections.
    [Benchmark(Description = "ORT Attention (opset 23)")]
    public void Ort_Attention23() => _ort!.Run();

    [Benchmark(Description = "ORT com.microsoft.MultiHeadAttention")]
    public void Ort_MultiHeadAttention() => _ort!.Run();
}
