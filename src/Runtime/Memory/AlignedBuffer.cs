using System.Runtime.InteropServices;

namespace AttnGen;

/// <summary>
/// A zero-initialised block of <see cref="float"/>s in native memory whose first element sits on a
/// 64-byte boundary (one cache line, one 512-bit vector). Dispose it to free the memory.
/// </summary>
public sealed unsafe class AlignedBuffer : IDisposable
{
    /// <summary>Alignment of <see cref="Pointer"/> in bytes.</summary>
    public const int Alignment = 64;

    private float* _pointer;

    /// <summary>Allocates <paramref name="length"/> floats, all zero.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    public AlignedBuffer(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Length = length;
        nuint bytes = (nuint)Math.Max(length, 1) * sizeof(float);
        _pointer = (float*)NativeMemory.AlignedAlloc(bytes, Alignment);
        NativeMemory.Clear(_pointer, bytes);
    }

    /// <summary>Number of floats.</summary>
    public int Length { get; }

    /// <summary>Whether <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => _pointer == null;

    /// <summary>The 64-byte-aligned address of element 0.</summary>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public float* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_pointer == null, this);
            return _pointer;
        }
    }

    /// <summary>The whole buffer as a span.</summary>
    public Span<float> Span => new(Pointer, Length);

    /// <summary>A slice of the buffer.</summary>
    public Span<float> Slice(int start, int length) => Span.Slice(start, length);

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_pointer != null)
        {
            NativeMemory.AlignedFree(_pointer);
            _pointer = null;
        }
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the memory if <see cref="Dispose"/> was not called.</summary>
    ~AlignedBuffer()
    {
        if (_pointer != null)
        {
            NativeMemory.AlignedFree(_pointer);
            _pointer = null;
        }
    }
}
