using System.Collections.Concurrent;
using System.Reflection;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Infrastructure;

/// <summary>A benchmark class that knows how many floating-point operations one invocation performs.</summary>
public interface IFlopCount
{
    /// <summary>Nominal flops of one invocation of <paramref name="benchmarkCase"/> (its method and parameters).</summary>
    double NominalFlops(BenchmarkCase benchmarkCase);
}

/// <summary>Flop counts: the formulas, and the lookup the columns use.</summary>
public static class FlopCount
{
    private static readonly ConcurrentDictionary<Type, IFlopCount?> s_counters = new();

    /// <summary>
    /// Attention core: 4 * H * S * S * D (two S x S x D matrix products, multiply and add each), per
    /// sequence. The same nominal count is used for causal masks, which do about half the work.
    /// </summary>
    public static double Core(int heads, int seqLen, int headDim, int batch = 1) => 4.0 * heads * seqLen * seqLen * headDim * batch;

    /// <summary>Full layer: the core plus 8 * S * ModelDim^2 for the four projections (H * D = ModelDim), per sequence.</summary>
    public static double Layer(int heads, int seqLen, int headDim, int modelDim, int batch) =>
        Core(heads, seqLen, headDim, batch) + 8.0 * seqLen * modelDim * modelDim * batch;

    /// <summary>Flops of one invocation, or null when the class does not count them.</summary>
    public static double? Of(BenchmarkCase benchmarkCase)
    {
        IFlopCount? counter = s_counters.GetOrAdd(benchmarkCase.Descriptor.Type,
            type => typeof(IFlopCount).IsAssignableFrom(type) ? (IFlopCount?)Activator.CreateInstance(type) : null);
        return counter?.NominalFlops(benchmarkCase);
    }

    /// <summary>Threads the benchmark method uses (<see cref="ThreadsAttribute"/>, default 1).</summary>
    public static int Threads(BenchmarkCase benchmarkCase) =>
        benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<ThreadsAttribute>()?.Count ?? 1;
}
