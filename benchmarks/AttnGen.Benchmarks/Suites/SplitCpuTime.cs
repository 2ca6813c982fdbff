using System.Diagnostics;
using AttnGen.Benchmarks.Decoding;
using AttnGen.Benchmarks.Layers;

namespace AttnGen.Benchmarks.Suites;

/// <summary>
/// One sequence on one thread against two, in CPU time (<c>Forward</c>, then <c>ForwardTrain</c> and <c>Backward</c>), for a machine whose other load leaves no free core (where
/// a two-thread wall-clock time says more about the neighbours than about the split). Per call, interleaved: wall
/// time, the calling thread's CPU time and the whole process's CPU time. With two threads the calling thread runs
/// part 0 and a pool thread part 1, so <c>process − caller</c> is part 1's CPU time (plus anything else the process
/// ran). Balance and overhead follow from these; the speedup on two free cores is about
/// <c>one thread's CPU / max(part 0, part 1)</c>, less the meetings' wake-up latency, which CPU time does not see.
/// <c>DOTNET_TieredCompilation=0 dotnet run -c Release --project benchmarks/AttnGen.Benchmarks -- --split-cpu-time [repetitions]</c>.
/// </summary>
internal static class SplitCpuTime
{
    public static void Run(int repetitions)
    {
        Console.WriteLine($"medians of {repetitions} interleaved calls; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        Measure<Layer_8x128x64>("8 x 128 x 64, ModelDim 512, batch 1, Forward", repetitions, training: false);
        Measure<Layer_8x512x64>("8 x 512 x 64, ModelDim 512, batch 1, Forward", repetitions, training: false);
        Measure<Layer_8x128x64>("8 x 128 x 64, ModelDim 512, batch 1, ForwardTrain + Backward", repetitions, training: true);
        Measure<Layer_8x512x64>("8 x 512 x 64, ModelDim 512, batch 1, ForwardTrain + Backward", repetitions, training: true);
        Measure<Layer_8x512x64_Mqa>("8 x 512 x 64, one key/value head, ModelDim 512, batch 1, ForwardTrain + Backward", repetitions, training: true);
        Measure<Layer_8x128x64>("8 x 128 x 64, ModelDim 512, batch 8, Forward (whole sequences per thread)", repetitions, training: false, batch: 8);
    }

    private static void Measure<TLayer>(string name, int repetitions, bool training, int batch = 1)
        where TLayer : class, IFullLayer, new()
    {
        using var one = new TLayer { MaxDegreeOfParallelism = 1 };
        using var two = new TLayer { MaxDegreeOfParallelism = 2 };
        one.ResetParameters(1);
        one.ParameterBlock.CopyTo(two.ParameterBlock);
        AttentionLayerInfo info = one.Info;
        float[] input = Infrastructure.TestData.Uniform(batch * info.SeqLen * info.ModelDim, 3);
        float[] y1 = new float[input.Length], y2 = new float[input.Length];
        float[] dy = Infrastructure.TestData.Uniform(input.Length, 23), dx1 = new float[input.Length], dx2 = new float[input.Length];
        var samples = new (double Wall, double Caller, double Process)[2][];
        samples[0] = new (double, double, double)[repetitions];
        samples[1] = new (double, double, double)[repetitions];
        for (int r = -3; r < repetitions; r++)
        {
            for (int t = 0; t < 2; t++)
            {
                TLayer layer = t == 0 ? one : two;
                float[] y = t == 0 ? y1 : y2, dx = t == 0 ? dx1 : dx2;
                if (training)
                {
                    layer.ZeroGradients();
                }
                double process = CpuTimeComparison.ProcessMilliseconds(), caller = CpuTimeComparison.ThreadMilliseconds();
                long start = Stopwatch.GetTimestamp();
                if (training)
                {
                    layer.ForwardTrain(input, y, batch);
                    layer.Backward(dy, dx, batch);
                }
                else
                {
                    layer.Forward(input, y, batch);
                }
                double wall = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (r >= 0)
                {
                    samples[t][r] = (wall, CpuTimeComparison.ThreadMilliseconds() - caller, CpuTimeComparison.ProcessMilliseconds() - process);
                }
            }
        }
        if (!y1.AsSpan().SequenceEqual(y2) || !dx1.AsSpan().SequenceEqual(dx2) || !one.GradientBlock.SequenceEqual(two.GradientBlock))
        {
            throw new InvalidOperationException($"{name}: two threads gave other bits than one");
        }
        double Median(int t, Func<(double Wall, double Caller, double Process), double> f)
        {
            double[] v = [.. samples[t].Select(f)];
            Array.Sort(v);
            return v[v.Length / 2];
        }
        double cpu1 = Median(0, s => s.Caller), part0 = Median(1, s => s.Caller), part1 = Median(1, s => s.Process - s.Caller);
        Console.WriteLine($"{name}: 1 thread wall {Median(0, s => s.Wall):F2} ms, CPU {cpu1:F2} ms; 2 threads wall {Median(1, s => s.Wall):F2} ms, " +
            $"part 0 CPU {part0:F2} ms, part 1 CPU {part1:F2} ms, both {Median(1, s => s.Process):F2} ms; " +
            $"one thread's CPU / max(part) = {cpu1 / Math.Max(part0, part1):F2}x");
    }
}
