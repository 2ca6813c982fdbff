using AttnGen.Benchmarks.Layers;
using AttnGen.Benchmarks.Onnx;

namespace AttnGen.Benchmarks.Decoding;

/// <summary>
/// A before/after check for a machine shared with other builds, where BenchmarkDotNet's wall-clock times swing
/// with the load: the cached prefill of 512 tokens against the causal Forward, and one decoding step against ONNX
/// Runtime's GroupQueryAttention, interleaved, each call timed in the calling thread's CPU time
/// (<c>CLOCK_THREAD_CPUTIME_ID</c>, so time spent descheduled is not counted), medians printed. Everything runs on
/// one thread (the layers with <c>MaxDegreeOfParallelism = 1</c>, ORT with one intra-op thread, both on the calling
/// thread). Linux only. Run with <c>DOTNET_TieredCompilation=0</c> so every call runs optimised code:
/// <c>DOTNET_TieredCompilation=0 dotnet run -c Release --project benchmarks/AttnGen.Benchmarks -- --cpu-time [repetitions]</c>.
/// </summary>
internal static unsafe class CpuTimeComparison
{
    public static void Run(int repetitions)
    {
        Console.WriteLine($"thread CPU time, medians of {repetitions} interleaved calls; load average {File.ReadAllText("/proc/loadavg").Trim()}");
        Prefill(repetitions);
        Console.WriteLine($"read bandwidth (streaming sum over 1 GiB, 1 thread): {ReadBandwidth():F1} GB/s");
        foreach ((int heads, int kvHeads, int headDim) in new[] { (32, 8, 128), (8, 8, 64) })
        {
            foreach (int context in new[] { 1024, 4096 })
            {
                foreach (int batch in new[] { 1, 8 })
                {
                    Step(heads, kvHeads, headDim, context, batch, repetitions);
                }
            }
        }
    }

    private static void Prefill(int repetitions)
    {
        const int Tokens = 512, ModelDim = Decoder_8x1024x64_Kv2.ModelDim;
        using var decoder = new Decoder_8x1024x64_Kv2 { MaxDegreeOfParallelism = 1 };
        decoder.ResetParameters(1);
        using var causal = new Causal_8x512x64_Kv2 { MaxDegreeOfParallelism = 1 };
        decoder.ParameterBlock.CopyTo(causal.ParameterBlock);
        float[] input = Infrastructure.TestData.Uniform(Tokens * ModelDim, 3);
        var cached = new float[input.Length];
        var full = new float[input.Length];
        using KvCache cache = decoder.CreateCache(1);
        (double a, double b) = Interleaved(repetitions,
            () => { cache.Reset(); decoder.Forward(input, cached, cache, Tokens); },
            () => causal.Forward(input, full));
        Console.WriteLine($"prefill of 512 tokens (8/2 heads of 64, ModelDim 512): cached {a:F2} ms, causal Forward {b:F2} ms, ratio {a / b:F3}");
    }

    private static void Step(int heads, int kvHeads, int headDim, int context, int batch, int repetitions)
    {
        const int Capacity = 4096;
        using var fixture = new DecodeFixture(heads, kvHeads, headDim, batch, context, Capacity);
        using KvCache cache = fixture.NewCache(Capacity);
        using var decoder = new DecodeAttention(heads, kvHeads, headDim, 1f / MathF.Sqrt(headDim), maxTokens: 1);
        using OrtRunner ort = fixture.NewOrt(new float[fixture.Expected.Length]);
        (double a, double b) = Interleaved(repetitions, () => fixture.Step(cache, decoder, 1), ort.Run);
        double gigabytes = DecodeFixture.KvBytes(kvHeads, headDim, batch, context) / 1e9;
        Console.WriteLine($"{heads}/{kvHeads} heads of {headDim}, context {context}, batch {batch}: AttnGen {a * 1e3:F0} us ({gigabytes / (a / 1e3):F1} GB/s), ORT {b * 1e3:F0} us, ratio {a / b:F2}");
    }

    // Medians in milliseconds of the two actions called alternately after three warm-up calls each.
    private static (double First, double Second) Interleaved(int repetitions, Action first, Action second)
    {
        for (int i = 0; i < 3; i++)
        {
            first();
            second();
        }
        var a = new double[repetitions];
        var b = new double[repetitions];
        for (int r = 0; r < repetitions; r++)
        {
            double t0 = ThreadMilliseconds();
            first();
            double t1 = ThreadMilliseconds();
            second();
            a[r] = t1 - t0;
            b[r] = ThreadMilliseconds() - t1;
        }
        Array.Sort(a);
        Array.Sort(b);
        return (a[repetitions / 2], b[repetitions / 2]);
    }

    // The streaming sum of the ReadBandwidth class over 1 GiB, median of five passes.
    private static double ReadBandwidth()
    {
        const int Floats = 256 << 20;
        using var buffer = new AlignedBuffer(Floats);
        buffer.Span.Fill(1f);
        var rates = new double[5];
        for (int r = 0; r < rates.Length; r++)
        {
            double t0 = ThreadMilliseconds();
            if (Decoding.ReadBandwidth.Sum(buffer.Pointer, Floats) != Floats)
            {
                throw new InvalidOperationException("the streaming sum is wrong");
            }
            rates[r] = (double)Floats * sizeof(float) / ((ThreadMilliseconds() - t0) * 1e6);
        }
        Array.Sort(rates);
        return rates[rates.Length / 2];
    }

    /// <summary>The calling thread's CPU time in milliseconds.</summary>
    internal static double ThreadMilliseconds() => Infrastructure.ThreadCpuClock.Instance.GetTimestamp() / 1e6;

    /// <summary>The CPU time of every thread of the process in milliseconds.</summary>
    internal static double ProcessMilliseconds() => Infrastructure.ThreadCpuClock.ProcessTimestamp() / 1e6;
}
