using AttnGen.Benchmarks.Infrastructure;
using BenchmarkDotNet.Running;

// Usage: dotnet run -c Release --project benchmarks/AttnGen.Benchmarks -- [--quick] [BenchmarkDotNet options]
// for example --filter '*Core_H8_S128*' --job short. See benchmarks/README.md.
// --thread-cpu: in process, 3 warm-ups and 9 iterations timed in the benchmark thread's CPU time (one-thread classes only).
// --cpu-time [repetitions]: the interleaved thread-CPU-time comparison of AttnGen.Benchmarks.Decoding.CpuTimeComparison instead.
int cpuTime = Array.IndexOf(args, "--cpu-time");
if (cpuTime >= 0)
{
    AttnGen.Benchmarks.Decoding.CpuTimeComparison.Run(cpuTime + 1 < args.Length ? int.Parse(args[cpuTime + 1], System.Globalization.CultureInfo.InvariantCulture) : 11);
    return;
}
bool quick = args.Contains("--quick"), threadCpu = args.Contains("--thread-cpu");
string[] rest = [.. args.Where(a => a != "--quick" && a != "--thread-cpu")];
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, BenchConfig.Create(quick, threadCpu));
