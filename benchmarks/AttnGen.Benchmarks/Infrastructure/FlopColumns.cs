using System.Globalization;
using AttnGen.Benchmarks.Peak;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Infrastructure;

/// <summary>Shared plumbing of the custom columns: right-aligned text, shown whenever the class counts flops.</summary>
public abstract class FlopColumnBase(string id, string name, string legend, int priority, bool numeric) : IColumn
{
    public string Id => id;

    public string ColumnName => name;

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => priority;

    public bool IsNumeric => numeric;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => legend;

    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(c => FlopCount.Of(c) is not null);

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public abstract string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style);

    /// <summary>Measured GFLOP/s of the case (nominal flops / mean time), or null when not measured.</summary>
    protected static double? Gflops(Summary summary, BenchmarkCase benchmarkCase)
    {
        double? flops = FlopCount.Of(benchmarkCase);
        double? meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
        return flops is null || meanNs is not > 0 ? null : flops.Value / meanNs.Value;
    }

    public override string ToString() => ColumnName;
}

/// <summary>Nominal GFLOP/s: the class's flop count over the mean time.</summary>
public sealed class GflopsColumn() : FlopColumnBase("GFLOPs", "GFLOP/s",
    "Nominal floating-point operations per second: flop formula in benchmarks/README.md over the mean time", 0, true)
{
    public override string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) =>
        Gflops(summary, benchmarkCase)?.ToString("F2", CultureInfo.InvariantCulture) ?? "-";
}

/// <summary>GFLOP/s as a share of the machine's measured FMA peak (one core, times the benchmark's threads).</summary>
public sealed class PercentOfPeakColumn() : FlopColumnBase("PctPeak", "% of peak",
    "GFLOP/s over the measured single-core FMA peak (FmaPeak.Gflops) times the threads the benchmark uses", 1, true)
{
    public override string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? gflops = Gflops(summary, benchmarkCase);
        double peak = FmaPeak.Gflops * FlopCount.Threads(benchmarkCase);
        return gflops is null || !(peak > 0) ? "-" : (gflops.Value / peak * 100).ToString("F1", CultureInfo.InvariantCulture) + "%";
    }
}

/// <summary>Says where the flop count is nominal rather than the work done.</summary>
public sealed class FlopNoteColumn() : FlopColumnBase("FlopNote", "Flop note",
    "forward classes: causal rows use the full S x S nominal count although a causal kernel does about half the work; backward classes count the visible pairs", 2, false)
{
    public override string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        if (FlopCount.NoteOf(benchmarkCase) is { } note)
        {
            return note;
        }
        bool causal = benchmarkCase.Parameters.Items.Any(p => p.Name == "Causal" && p.Value is true);
        return causal ? "nominal (full S²)" : "";
    }
}

/// <summary>Tokens per second: the class's tokens per invocation (<see cref="ITokenCount"/>) over the mean time.</summary>
public sealed class TokensPerSecondColumn : IColumn
{
    public string Id => "TokensPerSecond";

    public string ColumnName => "Tokens/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => -1;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Tokens (batch x sequence length) per invocation over the mean time";

    public bool IsAvailable(Summary summary) => summary.BenchmarksCases.Any(c => c.Descriptor.Type.IsAssignableTo(typeof(ITokenCount)));

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, summary.Style);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
        if (meanNs is not > 0 || Activator.CreateInstance(benchmarkCase.Descriptor.Type) is not ITokenCount counter)
        {
            return "-";
        }
        return (counter.Tokens(benchmarkCase) / meanNs.Value * 1e9).ToString("N0", CultureInfo.InvariantCulture);
    }

    public override string ToString() => ColumnName;
}
