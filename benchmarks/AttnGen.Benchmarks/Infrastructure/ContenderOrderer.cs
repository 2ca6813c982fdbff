using System.Collections.Immutable;
using BenchmarkDotNet.Order;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Infrastructure;

/// <summary>
/// BenchmarkDotNet's default order, except that within each parameter group the rows follow
/// <see cref="Rank"/>: the generated layer (baseline) first, then its other paths, then the other contenders.
/// </summary>
public sealed class ContenderOrderer() : DefaultOrderer(SummaryOrderPolicy.Default, MethodOrderPolicy.Declared)
{
    private static readonly string[] Rank =
    [
        "Generated", "Generated_1Thread", "Generated_2Threads", "Generated_DefaultThreads", "Generated_Avx512", "Generated_Avx2", "Generated_Vector128", "Generated_Scalar",
        "Generic", "Generic_1Thread", "Generic_2Threads", "Generic_DefaultThreads", "TensorPrimitives", "Naive", "Ort_Attention23", "Ort_MultiHeadAttention",
    ];

    public override IEnumerable<BenchmarkCase> GetSummaryOrder(ImmutableArray<BenchmarkCase> benchmarksCases, Summary summary)
    {
        List<BenchmarkCase> order = [.. base.GetSummaryOrder(benchmarksCases, summary)];
        List<string> groups = [.. order.Select(c => c.Parameters.DisplayInfo).Distinct()];
        return order
            .Select((c, i) => (Case: c, Index: i))
            .OrderBy(x => groups.IndexOf(x.Case.Parameters.DisplayInfo))
            .ThenBy(x => RankOf(x.Case))
            .ThenBy(x => x.Index)
            .Select(x => x.Case);
    }

    private static int RankOf(BenchmarkCase benchmarkCase)
    {
        int rank = Array.IndexOf(Rank, benchmarkCase.Descriptor.WorkloadMethod.Name);
        return rank < 0 ? Rank.Length : rank;
    }
}
