using AttnGen.Benchmarks.Infrastructure;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Peak;

/// <summary>The FMA peak loops as benchmarks, so the table shows the ceiling the other classes are measured against.</summary>
public class FmaPeakBenchmarks : IFlopCount
{
    private const long Iterations = 1_000_000;

    [Benchmark(Baseline = true, Description = "Avx512F FMA, 12 chains")]
    [RequiresIsa(KernelIsa.Avx512)]
    public float Avx512() => FmaPeak.Avx512(Iterations);

    [Benchmark(Description = "Vector256 FMA, 12 chains")]
    [RequiresIsa(KernelIsa.Avx2)]
    public float Vector256() => FmaPeak.Vector256Fma(Iterations);

    public double NominalFlops(BenchmarkCase benchmarkCase) =>
        FmaPeak.Flops(Iterations, benchmarkCase.Descriptor.WorkloadMethod.Name == nameof(Avx512) ? 16 : 8);
}
