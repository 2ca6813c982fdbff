using System.Runtime.CompilerServices;

namespace AttnGen.Benchmarks.Generic;

/// <summary>
/// Pinned float buffers a kernel instance hands to its workers: rented per call (or per worker of a
/// parallel call) and returned, so the steady state allocates nothing.
/// </summary>
internal sealed unsafe class ScratchPool(long length)
{
    private readonly Stack<float[]> _free = new();

    /// <summary>A buffer of at least the pool's length plus room to align to 64 bytes.</summary>
    public float[] Rent()
    {
        lock (_free)
        {
            if (_free.TryPop(out float[]? buffer))
            {
                return buffer;
            }
        }
        return GC.AllocateUninitializedArray<float>(checked((int)(length + 16)), pinned: true);
    }

    /// <summary>Gives <paramref name="buffer"/> back for the next call.</summary>
    public void Return(float[] buffer)
    {
        lock (_free)
        {
            _free.Push(buffer);
        }
    }

    /// <summary>The first 64-byte-aligned element of a rented (pinned) buffer.</summary>
    public static float* Aligned(float[] buffer) => (float*)(((nint)Unsafe.AsPointer(ref buffer[0]) + 63) & ~(nint)63);

    /// <summary><paramref name="value"/> rounded up to a multiple of <paramref name="step"/>.</summary>
    public static int RoundUp(int value, int step) => (value + step - 1) / step * step;
}
