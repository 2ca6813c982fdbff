using AttnGen.Benchmarks.Infrastructure;
using BenchmarkDotNet.Running;

// Usage: dotnet run -c Release --project benchmarks/AttnGen.Benchmarks -- [--quick] [BenchmarkDotNet options]
// for example --filter '*Core_H8_S128*' --job short. See benchmarks/README.md.
// --cpu-time [repetitions]: the interleaved thread-CPU-time comparison of AttnGen.Benchmarks.Decoding.CpuTimeComparison instead.
int cpuTime = Array.IndexOf(args, "--cpu-time");
if (cpuTime >= 0)
{
    AttnGen.Benchmarks.Decoding.CpuTimeComparison.Run(cpuTime + 1 < args.Length ? int.Parse(args[cpuTime + 1], System.Globalization.CultureInfo.InvariantCulture) : 11);
    return;
}
bool quick = args.Contains("--quick");
string[] rest = [.. args.Where(a => a != "--quick")];
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, BenchConfig.Create(quick));
