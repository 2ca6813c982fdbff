using System.Runtime.CompilerServices;

namespace AttnGen.Benchmarks.Generic;

/// <summary>
/// Per-thread scratch for the generic kernels: a pinned float array that grows on demand and is then
/// reused, so the steady state allocates nothing on a given thread.
/// </summary>
internal static unsafe class ThreadScratch
{
    /// <summary>Scratch of the attention core.</summary>
    public const int AttentionSlot = 0;

    /// <summary>Scratch of the full layer (projected q, k, v and the context), live while the core runs.</summary>
    public const int LayerSlot = 1;

    [ThreadStatic]
    private static float[]?[]? t_buffers;

    /// <summary>
    /// A pointer to at least <paramref name="length"/> floats, 64-byte aligned, valid until the next call
    /// for the same <paramref name="slot"/> on this thread.
    /// </summary>
    public static float* Get(int slot, long length)
    {
        float[]?[] buffers = t_buffers ??= new float[]?[2];
        float[]? buffer = buffers[slot];
        if (buffer is null || buffer.LongLength < length + 16)
        {
            buffer = GC.AllocateUninitializedArray<float>(checked((int)(length + 16)), pinned: true);
            buffers[slot] = buffer;
        }
        nint address = (nint)Unsafe.AsPointer(ref buffer[0]);
        nint aligned = (address + 63) & ~(nint)63;
        return (float*)aligned;
    }

    /// <summary><paramref name="value"/> rounded up to a multiple of <paramref name="step"/>.</summary>
    public static int RoundUp(int value, int step) => (value + step - 1) / step * step;
}
