using AttnGen.Benchmarks.Infrastructure;
using BenchmarkDotNet.Running;

// Usage: dotnet run -c Release --project benchmarks/AttnGen.Benchmarks -- [--quick] [BenchmarkDotNet options]
// for example --filter '*Core_H8_S128*' --job short. See benchmarks/README.md.
bool quick = args.Contains("--quick");
string[] rest = [.. args.Where(a => a != "--quick")];
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(rest, BenchConfig.Create(quick));
