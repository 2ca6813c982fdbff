using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace AttnGen;

/// <summary>Conversions between <see cref="float"/> and the little-endian F32, F16 and BF16 encodings.</summary>
internal static class FloatCodec
{
    /// <summary>Bytes per element of a float-convertible dtype.</summary>
    public static int ElementSize(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.F32 => 4,
        SafeTensorsDType.F16 or SafeTensorsDType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, $"Only {SafeTensorsDTypes.FloatConvertible} convert to and from float."),
    };

    /// <summary>Decodes <paramref name="destination"/>.Length elements of <paramref name="dtype"/> from <paramref name="source"/>.</summary>
    public static void Decode(SafeTensorsDType dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        int size = ElementSize(dtype);
        if (source.Length != destination.Length * size)
        {
            throw new ArgumentException($"{source.Length} bytes of {dtype} do not hold {destination.Length} elements.", nameof(source));
        }
        switch (dtype)
        {
            case SafeTensorsDType.F32 when BitConverter.IsLittleEndian:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case SafeTensorsDType.F32:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source.Slice(4 * i));
                }
                break;
            case SafeTensorsDType.F16:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(source.Slice(2 * i));
                }
                break;
            default:
                for (int i = 0; i < destination.Length; i++)
                {
                    destination[i] = FromBFloat16Bits(BinaryPrimitives.ReadUInt16LittleEndian(source.Slice(2 * i)));
                }
                break;
        }
    }

    /// <summary>Encodes <paramref name="source"/> as <paramref name="dtype"/> into <paramref name="destination"/>, rounding to nearest even.</summary>
    public static void Encode(SafeTensorsDType dtype, ReadOnlySpan<float> source, Span<byte> destination)
    {
        int size = ElementSize(dtype);
        if (destination.Length != source.Length * size)
        {
            throw new ArgumentException($"{destination.Length} bytes of {dtype} do not hold {source.Length} elements.", nameof(destination));
        }
        switch (dtype)
        {
            case SafeTensorsDType.F32 when BitConverter.IsLittleEndian:
                MemoryMarshal.AsBytes(source).CopyTo(destination);
                break;
            case SafeTensorsDType.F32:
                for (int i = 0; i < source.Length; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(destination.Slice(4 * i), source[i]);
                }
                break;
            case SafeTensorsDType.F16:
                for (int i = 0; i < source.Length; i++)
                {
                    BinaryPrimitives.WriteHalfLittleEndian(destination.Slice(2 * i), (Half)source[i]);
                }
                break;
            default:
                for (int i = 0; i < source.Length; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(destination.Slice(2 * i), ToBFloat16Bits(source[i]));
                }
                break;
        }
    }

    /// <summary>A bfloat16 widened to float: its 16 bits become the upper half of the float's bits.</summary>
    public static float FromBFloat16Bits(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>
    /// The bfloat16 nearest to <paramref name="value"/>, ties to even. NaN stays NaN (quiet, sign kept);
    /// values past the largest bfloat16 round to infinity, as IEEE rounding does.
    /// </summary>
    public static ushort ToBFloat16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x0040);
        }
        // Adding 0x7FFF rounds up exactly the values past the halfway point; the low bit of the kept
        // half adds one more at the halfway point itself when that half is odd, so ties go to even.
        uint roundingBias = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + roundingBias) >> 16);
    }
}
