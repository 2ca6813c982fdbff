using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AttnGen.Benchmarks.Peak;

/// <summary>
/// The machine's fp32 FMA peak on one core, measured with <see cref="Chains"/> independent
/// fused multiply-add chains, enough to cover the FMA latency on both pipes.
/// </summary>
public static class FmaPeak
{
    /// <summary>Independent accumulator chains per loop.</summary>
    public const int Chains = 12;

    private static readonly Lazy<double> s_gflops = new(Measure, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Flops of <paramref name="iterations"/> iterations over <paramref name="lanes"/>-float vectors: chains x lanes x 2.</summary>
    public static double Flops(long iterations, int lanes) => (double)iterations * Chains * lanes * 2;

    /// <summary>
    /// Single-core peak GFLOP/s with the widest FMA this process has (AVX-512F, else 256-bit FMA; NaN
    /// without FMA), measured once on first use by running the loop for about 200 ms and keeping the best rate.
    /// </summary>
    public static double Gflops => s_gflops.Value;

    /// <summary>12 chains of 512-bit <see cref="Avx512F.FusedMultiplyAdd(Vector512{float}, Vector512{float}, Vector512{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static float Avx512(long iterations)
    {
        Vector512<float> a = Vector512.Create(0.999999f), b = Vector512.Create(1e-6f);
        Vector512<float> x0 = Vector512.Create(1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0;
        Vector512<float> x6 = x0, x7 = x0, x8 = x0, x9 = x0, x10 = x0, x11 = x0;
        for (long i = 0; i < iterations; i++)
        {
            x0 = Avx512F.FusedMultiplyAdd(x0, a, b); x1 = Avx512F.FusedMultiplyAdd(x1, a, b);
            x2 = Avx512F.FusedMultiplyAdd(x2, a, b); x3 = Avx512F.FusedMultiplyAdd(x3, a, b);
            x4 = Avx512F.FusedMultiplyAdd(x4, a, b); x5 = Avx512F.FusedMultiplyAdd(x5, a, b);
            x6 = Avx512F.FusedMultiplyAdd(x6, a, b); x7 = Avx512F.FusedMultiplyAdd(x7, a, b);
            x8 = Avx512F.FusedMultiplyAdd(x8, a, b); x9 = Avx512F.FusedMultiplyAdd(x9, a, b);
            x10 = Avx512F.FusedMultiplyAdd(x10, a, b); x11 = Avx512F.FusedMultiplyAdd(x11, a, b);
        }
        Vector512<float> sum = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) + ((x8 + x9) + (x10 + x11));
        return Vector512.Sum(sum);
    }

    /// <summary>12 chains of 256-bit <see cref="Fma.MultiplyAdd(Vector256{float}, Vector256{float}, Vector256{float})"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static float Vector256Fma(long iterations)
    {
        Vector256<float> a = Vector256.Create(0.999999f), b = Vector256.Create(1e-6f);
        Vector256<float> x0 = Vector256.Create(1f), x1 = x0, x2 = x0, x3 = x0, x4 = x0, x5 = x0;
        Vector256<float> x6 = x0, x7 = x0, x8 = x0, x9 = x0, x10 = x0, x11 = x0;
        for (long i = 0; i < iterations; i++)
        {
            x0 = Fma.MultiplyAdd(x0, a, b); x1 = Fma.MultiplyAdd(x1, a, b);
            x2 = Fma.MultiplyAdd(x2, a, b); x3 = Fma.MultiplyAdd(x3, a, b);
            x4 = Fma.MultiplyAdd(x4, a, b); x5 = Fma.MultiplyAdd(x5, a, b);
            x6 = Fma.MultiplyAdd(x6, a, b); x7 = Fma.MultiplyAdd(x7, a, b);
            x8 = Fma.MultiplyAdd(x8, a, b); x9 = Fma.MultiplyAdd(x9, a, b);
            x10 = Fma.MultiplyAdd(x10, a, b); x11 = Fma.MultiplyAdd(x11, a, b);
        }
        Vector256<float> sum = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7)) + ((x8 + x9) + (x10 + x11));
        return Vector256.Sum(sum);
    }

    private static double Measure()
    {
        Func<long, float>? loop = Avx512F.IsSupported ? Avx512 : Fma.IsSupported ? Vector256Fma : null;
        if (loop is null)
        {
            return double.NaN;
        }
        int lanes = Avx512F.IsSupported ? 16 : 8;
        const long iterations = 100_000; // about 0.2 ms per run at 200 GFLOP/s
        loop(iterations);
        double best = 0;
        var total = Stopwatch.StartNew();
        while (total.ElapsedMilliseconds < 200)
        {
            long start = Stopwatch.GetTimestamp();
            loop(iterations);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            best = Math.Max(best, Flops(iterations, lanes) / seconds / 1e9);
        }
        return best;
    }
}
