using System.Collections.Immutable;

namespace AttnGen;

/// <summary>A tensor to be written by <see cref="SafeTensorsWriter"/>: its name, shape and stored dtype.</summary>
public sealed class SafeTensorDeclaration
{
    /// <summary>Declares a tensor.</summary>
    /// <param name="name">Name in the file; any string but <c>__metadata__</c>.</param>
    /// <param name="shape">Row-major shape; every dimension non-negative. Empty for a scalar.</param>
    /// <param name="dtype">How the floats are stored: F32, F16 or BF16.</param>
    /// <exception cref="ArgumentException">The name is reserved, a dimension is negative, the dtype is not float-convertible, or the tensor has more elements than a span holds.</exception>
    public SafeTensorDeclaration(string name, ReadOnlySpan<long> shape, SafeTensorsDType dtype = SafeTensorsDType.F32)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name == SafeTensorsHeader.MetadataKey)
        {
            throw new ArgumentException($"'{SafeTensorsHeader.MetadataKey}' is reserved for metadata and cannot name a tensor.", nameof(name));
        }
        if (!SafeTensorsDTypes.IsFloatConvertible(dtype))
        {
            throw new ArgumentException($"Tensor '{name}': dtype {dtype} cannot be written from floats; use {SafeTensorsDTypes.FloatConvertible}.", nameof(dtype));
        }
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Tensor '{name}': shape {SafeTensorInfo.FormatShape(shape.ToArray())} has a negative dimension.", nameof(shape));
            }
            count = d == 0 || count == 0 ? 0 : (count > int.MaxValue / d ? long.MaxValue : count * d);
        }
        if (count > int.MaxValue)
        {
            throw new ArgumentException($"Tensor '{name}': shape {SafeTensorInfo.FormatShape(shape.ToArray())} has more elements than a span holds.", nameof(shape));
        }
        Name = name;
        Shape = ImmutableArray.Create(shape);
        DType = dtype;
        ElementCount = (int)count;
    }

    /// <summary>Name in the file.</summary>
    public string Name { get; }

    /// <summary>Row-major shape.</summary>
    public ImmutableArray<long> Shape { get; }

    /// <summary>How the floats are stored.</summary>
    public SafeTensorsDType DType { get; }

    /// <summary>Number of elements: the product of <see cref="Shape"/>.</summary>
    public int ElementCount { get; }

    /// <summary>Number of bytes in the file.</summary>
    public long ByteLength => (long)ElementCount * FloatCodec.ElementSize(DType);
}
