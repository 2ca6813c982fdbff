using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace AttnGen;

/// <summary>
/// Writes a safetensors stream: <see cref="Begin"/> writes the header for a list of declared tensors, then
/// <see cref="WriteNext"/> writes each tensor's values in the declared order, and <see cref="Complete"/>
/// checks that all were written. The header is padded with spaces to a multiple of 8 bytes and the tensors
/// follow it contiguously, in the declared order, so every tensor's data is 8-byte aligned in the file
/// when the preceding ones are.
/// </summary>
public sealed class SafeTensorsWriter
{
    // Elements converted per write: 64 KiB of F32.
    private const int ChunkElements = 16 * 1024;

    private static readonly JsonWriterOptions s_jsonOptions = new()
    {
        // Readable names (a '+' or non-ASCII letter stays as it is); the header is never embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    private readonly Stream _destination;
    private readonly IReadOnlyList<SafeTensorDeclaration> _tensors;
    private int _next;

    private SafeTensorsWriter(Stream destination, IReadOnlyList<SafeTensorDeclaration> tensors)
    {
        _destination = destination;
        _tensors = tensors;
    }

    /// <summary>The tensor that <see cref="WriteNext"/> writes next, or <see langword="null"/> when all are written.</summary>
    public SafeTensorDeclaration? NextTensor => _next < _tensors.Count ? _tensors[_next] : null;

    /// <summary>Writes the length field and the header for <paramref name="tensors"/>, and returns a writer for their data.</summary>
    /// <exception cref="ArgumentException">Two tensors share a name, or the header would exceed the format's limit.</exception>
    public static SafeTensorsWriter Begin(Stream destination, IReadOnlyList<SafeTensorDeclaration> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(tensors);
        byte[] header = BuildHeader(tensors, metadata);
        Span<byte> length = stackalloc byte[SafeTensorsHeader.LengthPrefixSize];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        destination.Write(length);
        destination.Write(header);
        return new SafeTensorsWriter(destination, tensors.ToArray());
    }

    /// <summary>Writes the values of <see cref="NextTensor"/>, converted to its dtype (F16 and BF16 round to nearest even).</summary>
    /// <exception cref="InvalidOperationException">Every declared tensor has been written.</exception>
    /// <exception cref="ArgumentException"><paramref name="values"/> does not have the tensor's element count.</exception>
    public void WriteNext(ReadOnlySpan<float> values)
    {
        SafeTensorDeclaration tensor = NextTensor
            ?? throw new InvalidOperationException($"All {_tensors.Count} declared tensors have been written.");
        if (values.Length != tensor.ElementCount)
        {
            throw new ArgumentException(
                $"Tensor '{tensor.Name}' {SafeTensorInfo.FormatShape(tensor.Shape)} has {tensor.ElementCount} elements; {values.Length} values were given.",
                nameof(values));
        }
        int size = FloatCodec.ElementSize(tensor.DType);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(values.Length, ChunkElements) * size);
        try
        {
            for (int done = 0; done < values.Length; done += ChunkElements)
            {
                int count = Math.Min(ChunkElements, values.Length - done);
                Span<byte> bytes = buffer.AsSpan(0, count * size);
                FloatCodec.Encode(tensor.DType, values.Slice(done, count), bytes);
                _destination.Write(bytes);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        _next++;
    }

    /// <summary>Checks that every declared tensor was written and flushes the stream.</summary>
    /// <exception cref="InvalidOperationException">A declared tensor was not written.</exception>
    public void Complete()
    {
        if (NextTensor is { } missing)
        {
            throw new InvalidOperationException(
                $"Tensor '{missing.Name}' and {_tensors.Count - _next - 1} after it were declared but not written.");
        }
        _destination.Flush();
    }

    /// <summary>The header JSON, space-padded to a multiple of 8 bytes.</summary>
    internal static byte[] BuildHeader(IReadOnlyList<SafeTensorDeclaration> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, s_jsonOptions))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach (KeyValuePair<string, string> pair in metadata)
                {
                    ArgumentNullException.ThrowIfNull(pair.Value, $"{nameof(metadata)}[{pair.Key}]");
                    json.WriteString(pair.Key, pair.Value);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (SafeTensorDeclaration tensor in tensors)
            {
                ArgumentNullException.ThrowIfNull(tensor, nameof(tensors));
                if (!names.Add(tensor.Name))
                {
                    throw new ArgumentException($"Two tensors are named '{tensor.Name}'.", nameof(tensors));
                }
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", tensor.DType.ToString());
                json.WriteStartArray("shape");
                foreach (long d in tensor.Shape)
                {
                    json.WriteNumberValue(d);
                }
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += tensor.ByteLength;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }

        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        if (padded > SafeTensorsHeader.MaxHeaderLength)
        {
            throw new ArgumentException(
                $"The header would be {padded} bytes, more than the format's limit of {SafeTensorsHeader.MaxHeaderLength:N0}.", nameof(tensors));
        }
        byte[] header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }
}
