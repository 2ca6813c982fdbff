using System.Runtime.InteropServices;
using Perfolizer.Horology;

namespace AttnGen.Benchmarks.Infrastructure;

/// <summary>
/// The calling thread's CPU time (Linux <c>CLOCK_THREAD_CPUTIME_ID</c>, nanoseconds) as a BenchmarkDotNet clock, for
/// in-process one-thread benchmarks on a shared machine: time the thread spends descheduled while other processes run
/// is not counted (cache and memory-bandwidth interference still is). Only meaningful with the in-process toolchain.
/// </summary>
public sealed unsafe class ThreadCpuClock : IClock
{
    public static readonly ThreadCpuClock Instance = new();

    private const int ClockProcessCpuTime = 2, ClockThreadCpuTime = 3;

    public string Title => "Thread CPU time";

    public bool IsAvailable => OperatingSystem.IsLinux();

    public Frequency Frequency => Frequency.GHz;

    public long GetTimestamp() => Read(ClockThreadCpuTime, "CLOCK_THREAD_CPUTIME_ID");

    /// <summary>The CPU time of every thread of the process, in nanoseconds.</summary>
    public static long ProcessTimestamp() => Read(ClockProcessCpuTime, "CLOCK_PROCESS_CPUTIME_ID");

    private static long Read(int clock, string name)
    {
        long* spec = stackalloc long[2];
        if (clock_gettime(clock, spec) != 0)
        {
            throw new InvalidOperationException($"clock_gettime({name}) failed (the CPU clocks need Linux).");
        }
        return spec[0] * 1_000_000_000L + spec[1];
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int clock_gettime(int clock, long* spec);
}
