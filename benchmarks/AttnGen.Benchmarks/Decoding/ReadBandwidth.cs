using System.Runtime.Intrinsics;
using AttnGen.Benchmarks.Infrastructure;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Decoding;

/// <summary>
/// The machine's read bandwidth, the ceiling of a memory-bound decoding step: a streaming sum over 1 GiB of floats
/// (32 times the 32 MiB L3 here), on one thread and on two (each summing its half).
/// </summary>
public unsafe class ReadBandwidth : IReadByteCount
{
    private const int Floats = 256 << 20;

    private AlignedBuffer? _buffer;
    private WorkerGroup? _workers;
    private readonly float[] _partials = new float[2];

    public double BytesRead(BenchmarkCase benchmarkCase) => (double)Floats * sizeof(float);

    [GlobalSetup]
    public void Setup()
    {
        _buffer = new AlignedBuffer(Floats);
        _buffer.Span.Fill(1f); // touch every page
        _workers = new WorkerGroup(w => _partials[w] = Sum(_buffer.Pointer + (long)w * Floats / 2, Floats / 2));
        if (OneThread() != Floats || TwoThreads() != Floats)
        {
            throw new InvalidOperationException("the streaming sum is wrong");
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _buffer?.Dispose();

    [Benchmark(Baseline = true, Description = "streaming sum, 1 GiB, 1 thread")]
    public float OneThread() => Sum(_buffer!.Pointer, Floats);

    [Benchmark(Description = "streaming sum, 1 GiB, 2 threads"), Threads(2)]
    public float TwoThreads()
    {
        _workers!.Run(2);
        return _partials[0] + _partials[1];
    }

    /// <summary>Four independent 256-bit accumulators: two loads a cycle is far above what memory delivers.</summary>
    internal static float Sum(float* p, int count)
    {
        Vector256<float> a = default, b = default, c = default, d = default;
        for (int i = 0; i < count; i += 32)
        {
            a += Vector256.LoadAligned(p + i);
            b += Vector256.LoadAligned(p + i + 8);
            c += Vector256.LoadAligned(p + i + 16);
            d += Vector256.LoadAligned(p + i + 24);
        }
        return Vector256.Sum(a + b + c + d);
    }
}
