using System.Diagnostics.CodeAnalysis;
using System.IO.MemoryMappedFiles;

namespace AttnGen;

/// <summary>
/// A safetensors file opened for reading. The file is memory-mapped, not read whole: opening parses and
/// validates the header, and a tensor's bytes are touched only when it is read. Dispose it to unmap the file.
/// </summary>
/// <remarks>
/// Opening checks the whole layout (see <see cref="SafeTensorsError"/>); every problem is a
/// <see cref="SafeTensorsFormatException"/>. Tensors of any dtype the format defines are listed, but only
/// F32, F16 and BF16 tensors can be read as floats. Another process must not truncate the file while it is
/// open: like any memory-mapped file, reading pages that no longer exist fails with a fatal signal.
/// </remarks>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    // Elements converted per step, so a huge tensor never needs one span of more than int.MaxValue bytes.
    private const int ChunkElements = 1 << 20;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly SafeTensorsHeader _header;
    private readonly long _dataStart;
    private byte* _pointer;

    private SafeTensorsFile(string filePath, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* pointer, SafeTensorsHeader header, long dataStart)
    {
        FilePath = filePath;
        _map = map;
        _view = view;
        _pointer = pointer;
        _header = header;
        _dataStart = dataStart;
    }

    /// <summary>The path the file was opened with.</summary>
    public string FilePath { get; }

    /// <summary>The header's <c>__metadata__</c> map; empty when the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _header.Metadata;

    /// <summary>Every tensor in the file, in the order of its data.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors => _header.Tensors;

    /// <summary>Opens, maps and validates <paramref name="path"/>.</summary>
    /// <exception cref="SafeTensorsFormatException">The file is not a valid safetensors file.</exception>
    /// <exception cref="IOException">The file cannot be opened (for example <see cref="FileNotFoundException"/>).</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    public static SafeTensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        // Delete sharing lets a writer replace the file by renaming over it while it is mapped here.
        FileStream? stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 1);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        byte* pointer = null;
        try
        {
            long length = stream.Length;
            if (length < SafeTensorsHeader.LengthPrefixSize)
            {
                // Checked before mapping: an empty file cannot be mapped.
                throw SafeTensorsHeader.FileTooShort(path, length);
            }
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            stream = null;
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            byte* start = pointer + view.PointerOffset;

            int headerLength = SafeTensorsHeader.ReadHeaderLength(path, new ReadOnlySpan<byte>(start, SafeTensorsHeader.LengthPrefixSize), length);
            long dataStart = SafeTensorsHeader.LengthPrefixSize + (long)headerLength;
            var header = SafeTensorsHeader.Parse(path, new ReadOnlySpan<byte>(start + SafeTensorsHeader.LengthPrefixSize, headerLength), length - dataStart);
            return new SafeTensorsFile(path, map, view, start, header, dataStart);
        }
        catch
        {
            if (pointer != null)
            {
                view!.SafeMemoryMappedViewHandle.ReleasePointer();
            }
            view?.Dispose();
            map?.Dispose();
            stream?.Dispose();
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
    /// <exception cref="SafeTensorsFormatException">The tensor's dtype is not F32, F16 or BF16.</exception>
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
    /// <exception cref="SafeTensorsFormatException">The tensor's dtype is not F32, F16 or BF16.</exception>
    /// <exception cref="ArgumentException">The tensor is not from this file, or the destination has the wrong length.</exception>
    public void ReadFloats(SafeTensorInfo tensor, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ObjectDisposedException.ThrowIf(_pointer == null, this);
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

        int size = FloatCodec.ElementSize(tensor.DType);
        byte* source = _pointer + _dataStart + tensor.DataBegin;
        for (int done = 0; done < destination.Length; done += ChunkElements)
        {
            int count = Math.Min(ChunkElements, destination.Length - done);
            var bytes = new ReadOnlySpan<byte>(source + (long)done * size, count * size);
            FloatCodec.Decode(tensor.DType, bytes, destination.Slice(done, count));
        }
    }

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
        if (_pointer != null)
        {
            _pointer = null;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _map.Dispose();
        }
    }
}
