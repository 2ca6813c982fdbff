using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace AttnGen;

/// <summary>
/// A safetensors file opened for reading. Opening reads, parses and validates the header; a tensor's bytes are
/// read (with positioned reads, never a memory map) only when it is read. Dispose it to close the file.
/// </summary>
/// <remarks>
/// Opening checks the whole layout (see <see cref="SafeTensorsError"/>); every problem is a
/// <see cref="SafeTensorsFormatException"/>. Tensors of any dtype the format defines are listed, but only
/// F32, F16 and BF16 tensors can be read as floats. If another process truncates the file while it is open,
/// reading a tensor past its new end is a <see cref="SafeTensorsFormatException"/> with
/// <see cref="SafeTensorsError.FileTruncated"/>; a file replaced by a rename (as <see cref="AtomicFileWriter"/>
/// does) goes on reading the old content.
/// </remarks>
public sealed class SafeTensorsFile : IDisposable
{
    // Elements converted per step when a dtype needs converting (F16, BF16).
    private const int ChunkElements = 1 << 20;

    // Bytes per read when F32 goes straight into the destination: large enough that the system call is noise.
    private const int DirectReadBytes = 1 << 26;

    private readonly SafeTensorsHeader _header;
    private readonly long _dataStart;
    private readonly long _openedLength;
    private SafeFileHandle? _handle;

    private SafeTensorsFile(string filePath, SafeFileHandle handle, SafeTensorsHeader header, long dataStart, long openedLength)
    {
        FilePath = filePath;
        _handle = handle;
        _header = header;
        _dataStart = dataStart;
        _openedLength = openedLength;
    }

    /// <summary>The path the file was opened with.</summary>
    public string FilePath { get; }

    /// <summary>The header's <c>__metadata__</c> map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _header.Metadata;

    /// <summary>Every tensor in the file, in the order of its data.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors => _header.Tensors;

    /// <summary>Opens <paramref name="path"/> and reads and validates its header.</summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty.</exception>
    /// <exception cref="SafeTensorsFormatException">The file is not a valid safetensors file.</exception>
    /// <exception cref="IOException">
    /// The file cannot be opened: <see cref="FileNotFoundException"/> (no such file, or a dangling link),
    /// <see cref="DirectoryNotFoundException"/> (a folder of the path is missing, or is a file),
    /// <see cref="PathTooLongException"/>, or an <see cref="IOException"/> naming the path when it is a directory or
    /// may not be read.
    /// </exception>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        SafeFileHandle handle;
        try
        {
            // Delete sharing lets a writer replace the file by renaming over it while it is open here.
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        }
        catch (UnauthorizedAccessException e)
        {
            throw FileErrors.Access(path, "read", e);
        }
        try
        {
            long length = RandomAccess.GetLength(handle);
            Span<byte> prefix = stackalloc byte[SafeTensorsHeader.LengthPrefixSize];
            if (length < prefix.Length || Fill(handle, prefix, 0) < prefix.Length)
            {
                throw SafeTensorsHeader.FileTooShort(path, length);
            }
            int headerLength = SafeTensorsHeader.ReadHeaderLength(path, prefix, length);
            long dataStart = SafeTensorsHeader.LengthPrefixSize + (long)headerLength;
            byte[] header = GC.AllocateUninitializedArray<byte>(headerLength);
            int got = Fill(handle, header, SafeTensorsHeader.LengthPrefixSize);
            if (got < headerLength)
            {
                throw Truncated(path, null, RandomAccess.GetLength(handle), length, "before the end of the header");
            }
            var parsed = SafeTensorsHeader.Parse(path, header, length - dataStart);
            return new SafeTensorsFile(path, handle, parsed, dataStart, length);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Looks a tensor up by its full name.</summary>
    public bool TryGetTensor(string name, [NotNullWhen(true)] out SafeTensorInfo? tensor)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _header.ByName.TryGetValue(name, out tensor);
    }

    /// <summary>A tensor by its full name.</summary>
    /// <exception cref="KeyNotFoundException">The file has no tensor of that name.</exception>
    public SafeTensorInfo GetTensor(string name)
        => TryGetTensor(name, out SafeTensorInfo? tensor)
            ? tensor
            : throw new KeyNotFoundException($"The safetensors file '{FilePath}' has no tensor '{name}'.");

    /// <summary>Reads a tensor into a new array, converting F16 and BF16 to <see cref="float"/>.</summary>
    /// <exception cref="SafeTensorsFormatException">The tensor's dtype is not F32, F16 or BF16, or the file was truncated since it was opened.</exception>
    /// <exception cref="IOException">The read failed.</exception>
    public float[] ReadFloats(string name)
    {
        SafeTensorInfo tensor = GetTensor(name);
        EnsureFloatConvertible(tensor);
        if (tensor.ElementCount > Array.MaxLength)
        {
            throw new InvalidOperationException($"Tensor '{name}' of '{FilePath}' has {tensor.ElementCount} elements, more than an array can hold.");
        }
        var values = new float[tensor.ElementCount];
        ReadFloats(tensor, values);
        return values;
    }

    /// <summary>
    /// Reads <paramref name="tensor"/> (one of this file's <see cref="Tensors"/>) into
    /// <paramref name="destination"/>, whose length must be its element count, converting F16 and BF16 to
    /// <see cref="float"/>.
    /// </summary>
    /// <exception cref="SafeTensorsFormatException">The tensor's dtype is not F32, F16 or BF16, or the file was truncated since it was opened.</exception>
    /// <exception cref="IOException">The read failed.</exception>
    /// <exception cref="ArgumentException">The tensor is not from this file, or the destination has the wrong length.</exception>
    public void ReadFloats(SafeTensorInfo tensor, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        SafeFileHandle handle = _handle ?? throw new ObjectDisposedException(nameof(SafeTensorsFile));
        if (!_header.ByName.TryGetValue(tensor.Name, out SafeTensorInfo? own) || !ReferenceEquals(own, tensor))
        {
            throw new ArgumentException($"Tensor '{tensor.Name}' does not belong to '{FilePath}'.", nameof(tensor));
        }
        if (destination.Length != tensor.ElementCount)
        {
            throw new ArgumentException(
                $"'{nameof(destination)}' has length {destination.Length}; tensor '{tensor.Name}' {tensor.ShapeText} has {tensor.ElementCount} elements.",
                nameof(destination));
        }
        EnsureFloatConvertible(tensor);

        long position = _dataStart + tensor.DataBegin;
        if (tensor.DType == SafeTensorsDType.F32 && BitConverter.IsLittleEndian)
        {
            // F32 needs no conversion: read straight into the destination.
            Span<byte> bytes = MemoryMarshal.AsBytes(destination);
            for (long done = 0; done < bytes.Length; done += DirectReadBytes)
            {
                Span<byte> part = bytes.Slice((int)done, (int)Math.Min(DirectReadBytes, bytes.Length - done));
                ReadExactly(handle, part, position + done, tensor);
            }
            return;
        }

        int size = FloatCodec.ElementSize(tensor.DType);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(ChunkElements, destination.Length) * size);
        try
        {
            for (int done = 0; done < destination.Length; done += ChunkElements)
            {
                int count = Math.Min(ChunkElements, destination.Length - done);
                Span<byte> bytes = buffer.AsSpan(0, count * size);
                ReadExactly(handle, bytes, position + (long)done * size, tensor);
                FloatCodec.Decode(tensor.DType, bytes, destination.Slice(done, count));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads <paramref name="bytes"/> at <paramref name="position"/>, or throws <see cref="SafeTensorsError.FileTruncated"/>.</summary>
    private void ReadExactly(SafeFileHandle handle, Span<byte> bytes, long position, SafeTensorInfo tensor)
    {
        int got = Fill(handle, bytes, position);
        if (got < bytes.Length)
        {
            throw Truncated(FilePath, tensor.Name, RandomAccess.GetLength(handle), _openedLength,
                $"before the end of this tensor's data (bytes {_dataStart + tensor.DataBegin} to {_dataStart + tensor.DataEnd})");
        }
    }

    /// <summary>Reads until <paramref name="bytes"/> is full or the file ends; returns the bytes read.</summary>
    private static int Fill(SafeFileHandle handle, Span<byte> bytes, long position)
    {
        int total = 0;
        while (total < bytes.Length)
        {
            int n = RandomAccess.Read(handle, bytes[total..], position + total);
            if (n == 0)
            {
                break;
            }
            total += n;
        }
        return total;
    }

    private static SafeTensorsFormatException Truncated(string path, string? tensor, long length, long openedLength, string where)
        => new(path, tensor, SafeTensorsError.FileTruncated,
            $"the file now ends at byte {length}, {where}, but it had {openedLength} bytes when it was opened: " +
            "another process truncated or rewrote it while it was being read.");

    /// <summary>Throws unless <paramref name="tensor"/>'s dtype converts to <see cref="float"/>.</summary>
    /// <exception cref="SafeTensorsFormatException">The dtype is not F32, F16 or BF16.</exception>
    public void EnsureFloatConvertible(SafeTensorInfo tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (!SafeTensorsDTypes.IsFloatConvertible(tensor.DType))
        {
            throw new SafeTensorsFormatException(FilePath, tensor.Name, SafeTensorsError.UnsupportedDType,
                $"dtype {tensor.DType} cannot be read as float; only {SafeTensorsDTypes.FloatConvertible} can.");
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _handle?.Dispose();
        _handle = null;
    }
}
