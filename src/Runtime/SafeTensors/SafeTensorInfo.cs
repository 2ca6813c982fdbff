using System.Collections.Immutable;

namespace AttnGen;

/// <summary>One tensor of a safetensors file, as its header describes it. The header has been validated.</summary>
public sealed class SafeTensorInfo
{
    internal SafeTensorInfo(string name, SafeTensorsDType dtype, ImmutableArray<long> shape, long elementCount, long dataBegin, long dataEnd)
    {
        Name = name;
        DType = dtype;
        Shape = shape;
        ElementCount = elementCount;
        DataBegin = dataBegin;
        DataEnd = dataEnd;
    }

    /// <summary>The tensor's name in the file, e.g. <c>encoder.layers.0.self_attn.in_proj_weight</c>.</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public SafeTensorsDType DType { get; }

    /// <summary>Row-major shape; empty for a scalar.</summary>
    public ImmutableArray<long> Shape { get; }

    /// <summary>Number of elements: the product of <see cref="Shape"/>.</summary>
    public long ElementCount { get; }

    /// <summary>Where the tensor's bytes begin, counted from the start of the data (just after the header).</summary>
    public long DataBegin { get; }

    /// <summary>Where the tensor's bytes end (exclusive), counted from the start of the data.</summary>
    public long DataEnd { get; }

    /// <summary>Number of bytes: <see cref="DataEnd"/> - <see cref="DataBegin"/>.</summary>
    public long ByteLength => DataEnd - DataBegin;

    /// <summary>The shape as PyTorch prints it, e.g. <c>[1536, 512]</c>.</summary>
    public string ShapeText => FormatShape(Shape);

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {DType} {ShapeText}";

    internal static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
