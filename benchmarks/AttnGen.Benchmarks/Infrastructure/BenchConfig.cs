using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using Perfolizer.Horology;

namespace AttnGen.Benchmarks.Infrastructure;

/// <summary>
/// The suite's configuration: BenchmarkDotNet's defaults (markdown, CSV and HTML exporters), the memory
/// diagnoser, the median, the GFLOP/s, percent-of-peak, tokens-per-second and read-rate columns (from the mean), and
/// the filter that drops what this machine or build cannot run. Jobs come from the command line (<c>--job short</c>, <c>--job dry</c>) or
/// <see cref="QuickJob"/> with <c>--quick</c>; with neither, BenchmarkDotNet's default job (the full run).
/// </summary>
public static class BenchConfig
{
    /// <summary>One launch, one warm-up and five 100 ms iterations: for iterating on a kernel, not for tables.</summary>
    public static Job QuickJob { get; } = Job.Default
        .WithLaunchCount(1)
        .WithWarmupCount(1)
        .WithIterationCount(5)
        .WithIterationTime(TimeInterval.FromMilliseconds(100))
        .WithId("Quick");

    /// <summary>
    /// In process, three warm-ups and nine iterations timed in the benchmark thread's CPU time
    /// (<see cref="ThreadCpuClock"/>): for before/after comparisons of one-thread benchmarks on a loaded machine.
    /// </summary>
    public static Job ThreadCpuJob { get; } = Job.Default
        .WithToolchain(BenchmarkDotNet.Toolchains.InProcess.Emit.InProcessEmitToolchain.Instance)
        .WithClock(ThreadCpuClock.Instance)
        .WithWarmupCount(3)
        .WithIterationCount(9)
        .WithId("ThreadCpu");

    public static IConfig Create(bool quick, bool threadCpu = false)
    {
        ManualConfig config = ManualConfig.Create(DefaultConfig.Instance)
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddColumn(StatisticColumn.Median)
            .AddColumn(new GflopsColumn(), new PercentOfPeakColumn(), new FlopNoteColumn(), new TokensPerSecondColumn(), new ReadRateColumn())
            .AddFilter(new KernelAvailabilityFilter())
            .WithOrderer(new ContenderOrderer());
        return quick ? config.AddJob(QuickJob) : threadCpu ? config.AddJob(ThreadCpuJob) : config;
    }
}
