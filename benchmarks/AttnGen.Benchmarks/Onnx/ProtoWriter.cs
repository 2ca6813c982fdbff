using System.Buffers.Binary;
using System.Text;

namespace AttnGen.Benchmarks.Onnx;

/// <summary>
/// The protobuf wire format, just what an ONNX model needs: varints (wire type 0), 32-bit floats
/// (wire type 5) and length-delimited strings, bytes and nested messages (wire type 2).
/// </summary>
internal sealed class ProtoWriter
{
    private const int VarintWire = 0;
    private const int LengthDelimitedWire = 2;
    private const int Fixed32Wire = 5;

    private readonly MemoryStream _buffer = new();

    /// <summary>Writes <paramref name="value"/> seven bits at a time, low group first, high bit = more follows.</summary>
    private void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _buffer.WriteByte((byte)value);
    }

    private void Key(int field, int wireType) => Varint(((ulong)field << 3) | (uint)wireType);

    /// <summary>An int32/int64/enum field (negative numbers take ten bytes, as protobuf specifies).</summary>
    public ProtoWriter Int(int field, long value)
    {
        Key(field, VarintWire);
        Varint(unchecked((ulong)value));
        return this;
    }

    /// <summary>A float field.</summary>
    public ProtoWriter Float(int field, float value)
    {
        Key(field, Fixed32Wire);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        _buffer.Write(bytes);
        return this;
    }

    /// <summary>A bytes field.</summary>
    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Key(field, LengthDelimitedWire);
        Varint((ulong)value.Length);
        _buffer.Write(value);
        return this;
    }

    /// <summary>A UTF-8 string field.</summary>
    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>A nested message field, written by <paramref name="body"/>.</summary>
    public ProtoWriter Message(int field, Action<ProtoWriter> body)
    {
        var nested = new ProtoWriter();
        body(nested);
        return Bytes(field, nested.ToArray());
    }

    /// <summary>The bytes written so far.</summary>
    public byte[] ToArray() => _buffer.ToArray();
}
