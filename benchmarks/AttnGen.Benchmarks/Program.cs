using AttnGen.Benchmarks.Infrastructure;
using BenchmarkDotNet.Running;

// Usage: dotnet run -c Release --project benchmarks/AttnGen.Benchmarks -- [--quick] [BenchmarkDotNet options]
// for example --filter '*Core_H8_S128*' --job short. See benchmarks/README.md.
// --thread-cpu: in process, 3 warm-ups and 9 iterations timed in the benchmark thread's CPU time (one-thread classes only).
// --cpu-time [repetitions]: the interleaved thread-CPU-time comparison of AttnGen.Benchmarks.Decoding.CpuTimeComparison instead.
// --split-cpu-time [repetitions]: one sequence on one thread against two in CPU time (AttnGen.Benchmarks.Suites.SplitCpuTime).
int cpuTime = Array.IndexOf(args, "--cpu-time");
if (cpuTime >= 0)
{
    AttnGen.Benchmarks.Decoding.CpuTimeComparison.Run(cpuTime + 1 < args.Length ? int.Parse(args[cpuTime + 1], System.Globalization.CultureInfo.InvariantCulture) : 11);
    return;
}
int splitCpuTime = Array.IndexOf(args, "--split-cpu-time");
if (splitCpuTime >= 0)
{
    AttnGen.Benchmarks.Suites.SplitCpuTime.Run(splitCpuTime + 1 < args.Length ? int.Parse(args[splitCpuTime + 1], System.Globalization.CultureInfo.InvariantCulture) : 21);
    return;
}
bool quick = args.Contains("--quick"), threadCpu = args.Contains("--thread-cpu");
string[] rest = [.. args.Where(a => a != "--quick" && a != "--thread-cpu")];
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, BenchConfig.Create(quick, threadCpu));
