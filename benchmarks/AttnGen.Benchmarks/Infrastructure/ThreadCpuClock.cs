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

    private const int ClockThreadCpuTime = 3;

    public string Title => "Thread CPU time";

    public bool IsAvailable => OperatingSystem.IsLinux();

    public Frequency Frequency => Frequency.GHz;

    public long GetTimestamp()
    {
        long* spec = stackalloc long[2];
        if (clock_gettime(ClockThreadCpuTime, spec) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed (the thread CPU clock needs Linux).");
        }
        return spec[0] * 1_000_000_000L + spec[1];
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int clock_gettime(int clock, long* spec);
}
