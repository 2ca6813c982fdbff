namespace AttnGen;

/// <summary>
/// The element types a safetensors header may name, spelled as the format spells them. Every one is
/// recognised when a file is read (so a file that also holds, say, integer buffers still opens), but
/// only <see cref="F32"/>, <see cref="F16"/> and <see cref="BF16"/> can be read as or written from floats.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1707:Identifiers should not contain underscores", Justification = "Members carry the format's own dtype names.")]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Members carry the format's own dtype names.")]
public enum SafeTensorsDType
{
    /// <summary>32-bit IEEE 754 float. The default for writing.</summary>
    F32,

    /// <summary>16-bit IEEE 754 half-precision float.</summary>
    F16,

    /// <summary>bfloat16: the upper 16 bits of an F32.</summary>
    BF16,

    /// <summary>64-bit IEEE 754 float (recognised, not convertible).</summary>
    F64,

    /// <summary>Boolean, one byte (recognised, not convertible).</summary>
    BOOL,

    /// <summary>Unsigned 8-bit integer (recognised, not convertible).</summary>
    U8,

    /// <summary>Signed 8-bit integer (recognised, not convertible).</summary>
    I8,

    /// <summary>Signed 16-bit integer (recognised, not convertible).</summary>
    I16,

    /// <summary>Unsigned 16-bit integer (recognised, not convertible).</summary>
    U16,

    /// <summary>Signed 32-bit integer (recognised, not convertible).</summary>
    I32,

    /// <summary>Unsigned 32-bit integer (recognised, not convertible).</summary>
    U32,

    /// <summary>Signed 64-bit integer (recognised, not convertible).</summary>
    I64,

    /// <summary>Unsigned 64-bit integer (recognised, not convertible).</summary>
    U64,

    /// <summary>8-bit float, 5 exponent and 2 mantissa bits (recognised, not convertible).</summary>
    F8_E5M2,

    /// <summary>8-bit float, 4 exponent and 3 mantissa bits (recognised, not convertible).</summary>
    F8_E4M3,

    /// <summary>8-bit exponent-only scale (recognised, not convertible).</summary>
    F8_E8M0,

    /// <summary>6-bit float, 2 exponent and 3 mantissa bits, packed (recognised, not convertible).</summary>
    F6_E2M3,

    /// <summary>6-bit float, 3 exponent and 2 mantissa bits, packed (recognised, not convertible).</summary>
    F6_E3M2,

    /// <summary>4-bit float, packed (recognised, not convertible).</summary>
    F4,

    /// <summary>Complex number of two F32 (recognised, not convertible).</summary>
    C64,
}

/// <summary>Facts about each <see cref="SafeTensorsDType"/>: its name in a header and its width.</summary>
internal static class SafeTensorsDTypes
{
    /// <summary>The dtypes whose elements can be read as or written from <see cref="float"/>.</summary>
    public const string FloatConvertible = "F32, F16 or BF16";

    /// <summary>Width of one element in bits (4 and 6 for the packed sub-byte floats).</summary>
    public static int BitSize(SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.F4 => 4,
        SafeTensorsDType.F6_E2M3 or SafeTensorsDType.F6_E3M2 => 6,
        SafeTensorsDType.BOOL or SafeTensorsDType.U8 or SafeTensorsDType.I8
            or SafeTensorsDType.F8_E5M2 or SafeTensorsDType.F8_E4M3 or SafeTensorsDType.F8_E8M0 => 8,
        SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.I16 or SafeTensorsDType.U16 => 16,
        SafeTensorsDType.F32 or SafeTensorsDType.I32 or SafeTensorsDType.U32 => 32,
        SafeTensorsDType.F64 or SafeTensorsDType.I64 or SafeTensorsDType.U64 or SafeTensorsDType.C64 => 64,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a safetensors dtype."),
    };

    /// <summary>Whether elements of <paramref name="dtype"/> convert to and from <see cref="float"/>.</summary>
    public static bool IsFloatConvertible(SafeTensorsDType dtype)
        => dtype is SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16;

    /// <summary>The dtype a header names, matched exactly (the format's names are upper case).</summary>
    public static bool TryParse(ReadOnlySpan<char> name, out SafeTensorsDType dtype)
    {
        foreach (SafeTensorsDType candidate in Enum.GetValues<SafeTensorsDType>())
        {
            if (name.SequenceEqual(candidate.ToString()))
            {
                dtype = candidate;
                return true;
            }
        }
        dtype = default;
        return false;
    }
}
