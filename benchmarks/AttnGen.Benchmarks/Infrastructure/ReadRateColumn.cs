using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Infrastructure;

/// <summary>A benchmark class that knows how many bytes of memory one invocation must read (for the GB/s column).</summary>
public interface IReadByteCount
{
    /// <summary>Bytes one invocation of <paramref name="benchmarkCase"/> reads (its method and parameters).</summary>
    double BytesRead(BenchmarkCase benchmarkCase);
}

/// <summary>Read rate: the class's bytes per invocation (<see cref="IReadByteCount"/>) over the mean time, in GB/s (10⁹ bytes).</summary>
public sealed class ReadRateColumn : IColumn
{
    public string Id => "ReadGBs";

    public string ColumnName => "Read GB/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => -2;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Bytes the invocation must read (keys and values of the visible context; the buffer for the bandwidth loop) over the mean time, in 10^9 bytes per second";

    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(c => c.Descriptor.Type.IsAssignableTo(typeof(IReadByteCount)));

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
        if (meanNs is not > 0 || Activator.CreateInstance(benchmarkCase.Descriptor.Type) is not IReadByteCount counter)
        {
            return "-";
        }
        return (counter.BytesRead(benchmarkCase) / meanNs.Value).ToString("F1", CultureInfo.InvariantCulture);
    }

    public override string ToString() => ColumnName;
}
