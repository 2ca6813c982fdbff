using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;

namespace AttnGen.Benchmarks.Suites;

/// <summary>
/// The per-head transpose both attention passes start with: one head's keys, rows H·D floats apart in the layer's
/// [S, H·D] input, into key blocks of [D, 64] (<see cref="KernelSupport.PackKeyBlocks"/>). 8 heads of 64, so the
/// row stride is 512 floats; the source (S rows of the whole width) stays in L2 between calls, as it does in a layer.
/// </summary>
public unsafe class KeyPacking
{
    private const int Heads = 8, HeadDim = 64, Block = 64;
    private float* _keys, _packed;

    [Params(128, 512)]
    public int SeqLen { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _keys = (float*)NativeMemory.AlignedAlloc((nuint)(SeqLen * Heads * HeadDim * sizeof(float)), 64);
        _packed = (float*)NativeMemory.AlignedAlloc((nuint)(SeqLen * HeadDim * sizeof(float)), 64);
        for (int i = 0; i < SeqLen * Heads * HeadDim; i++)
        {
            _keys[i] = i % 97;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        NativeMemory.AlignedFree(_keys);
        NativeMemory.AlignedFree(_packed);
    }

    [Benchmark(Description = "PackKeyBlocks, one head")]
    public void PackOneHead()
        => KernelSupport.PackKeyBlocks(_keys + 3 * HeadDim, Heads * HeadDim, SeqLen, HeadDim, SeqLen, Block, _packed);
}
