using System.Collections.Concurrent;
using System.Reflection;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Infrastructure;

/// <summary>A benchmark class that knows how many floating-point operations one invocation performs.</summary>
public interface IFlopCount
{
    /// <summary>Nominal flops of one invocation of <paramref name="benchmarkCase"/> (its method and parameters).</summary>
    double NominalFlops(BenchmarkCase benchmarkCase);

    /// <summary>
    /// What the <c>Flop note</c> column says for the case; null for the default (causal rows of the forward
    /// classes count the full S x S).
    /// </summary>
    string? FlopNote(BenchmarkCase benchmarkCase) => null;
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

    /// <summary>
    /// Attention core backward (FlashAttention-2: S = Q·Kᵀ and dP = dO·Vᵀ recomputed, then dV, dK and dQ, five
    /// products): 10 * H * D flops per visible (query, key) pair, per sequence. The visible pairs are S² without a
    /// mask and S(S+1)/2 with the causal one, the work a kernel that skips masked keys does (FlashAttention's own
    /// benchmarks halve S² for causal, the same count up to the diagonal).
    /// </summary>
    public static double CoreBackward(int heads, int seqLen, int headDim, bool causal, int batch = 1) =>
        10.0 * heads * headDim * (causal ? seqLen * (seqLen + 1.0) / 2 : (double)seqLen * seqLen) * batch;

    /// <summary>
    /// One training step of the full self-attention layer (H * D = ModelDim, no mask): its forward, the core's
    /// backward, and 16 * S * ModelDim^2 for the four projections' backward (dX and dW, 2 * S * ModelDim^2 each),
    /// times the batch. The loss and the optimizer update are not counted.
    /// </summary>
    public static double TrainingStep(int heads, int seqLen, int headDim, int modelDim, int batch) =>
        Layer(heads, seqLen, headDim, modelDim, batch) + CoreBackward(heads, seqLen, headDim, causal: false, batch) + 16.0 * seqLen * modelDim * modelDim * batch;

    /// <summary>Flops of one invocation, or null when the class does not count them.</summary>
    public static double? Of(BenchmarkCase benchmarkCase) => Counter(benchmarkCase)?.NominalFlops(benchmarkCase);

    /// <summary>The class's own flop note for the case, or null.</summary>
    public static string? NoteOf(BenchmarkCase benchmarkCase) => Counter(benchmarkCase)?.FlopNote(benchmarkCase);

    private static IFlopCount? Counter(BenchmarkCase benchmarkCase) => s_counters.GetOrAdd(benchmarkCase.Descriptor.Type,
        type => typeof(IFlopCount).IsAssignableFrom(type) ? (IFlopCount?)Activator.CreateInstance(type) : null);

    /// <summary>Threads the benchmark method uses (<see cref="ThreadsAttribute"/>, default 1).</summary>
    public static int Threads(BenchmarkCase benchmarkCase) =>
        benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<ThreadsAttribute>()?.Count ?? 1;
}

/// <summary>A benchmark class that processes a known number of tokens per invocation (for the Tokens/s column).</summary>
public interface ITokenCount
{
    /// <summary>Tokens (sequences x sequence length) one invocation of <paramref name="benchmarkCase"/> processes.</summary>
    double Tokens(BenchmarkCase benchmarkCase);
}
