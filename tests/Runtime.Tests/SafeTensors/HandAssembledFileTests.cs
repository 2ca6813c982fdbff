using AttnGen.Runtime.Tests.Support;

namespace AttnGen.Runtime.Tests.SafeTensors;

/// <summary>A file assembled byte by byte from the format description, read back by the library.</summary>
public sealed class HandAssembledFileTests : IDisposable
{
    // Entries deliberately out of data order, no padding after the header (its length is not a multiple
    // of 8), a zero-size tensor, a scalar, and an integer tensor the reader must list but not convert.
    private const string Header =
        """{"ids":{"dtype":"I64","shape":[1],"data_offsets":[32,40]},"__metadata__":{"format":"pt","note":"hand \u00e9"},"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"h":{"dtype":"F16","shape":[3],"data_offsets":[16,22]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[22,28]},"none":{"dtype":"F32","shape":[0,5],"data_offsets":[28,28]},"s":{"dtype":"F32","shape":[],"data_offsets":[28,32]}}""";

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static byte[] Data() =>
    [
        .. RawFile.F32(1f, -2.5f, 0.15625f, 3e38f),
        .. RawFile.U16(0x3C00, 0xC500, 0x7C00), // F16: 1, -5, +infinity
        .. RawFile.U16(0x3F80, 0x4049, 0xC2F7), // BF16: 1, 3.140625, -123.5
        .. RawFile.F32(42f),
        .. BitConverter.GetBytes(7L),
    ];

    [Fact]
    public void ReadsEveryTensorAndTheMetadata()
    {
        string path = _dir.Write("hand.safetensors", RawFile.Build(Header, Data()));
        using SafeTensorsFile file = SafeTensorsFile.Open(path);

        Assert.Equal(["w", "h", "b", "none", "s", "ids"], file.Tensors.Select(t => t.Name));
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt", ["note"] = "hand \u00e9" }, file.Metadata);

        Assert.Equal([1f, -2.5f, 0.15625f, 3e38f], file.ReadFloats("w"));
        Assert.Equal([1f, -5f, float.PositiveInfinity], file.ReadFloats("h"));
        Assert.Equal([1f, 3.140625f, -123.5f], file.ReadFloats("b"));
        Assert.Empty(file.ReadFloats("none"));
        Assert.Equal([42f], file.ReadFloats("s"));

        SafeTensorInfo w = file.GetTensor("w");
        Assert.Equal(SafeTensorsDType.F32, w.DType);
        Assert.Equal([2L, 2L], w.Shape);
        Assert.Equal((0L, 16L, 4L), (w.DataBegin, w.DataEnd, w.ElementCount));
        Assert.Equal("[2, 2]", w.ShapeText);
        Assert.Empty(file.GetTensor("s").Shape);
        Assert.Equal(1, file.GetTensor("s").ElementCount);

        SafeTensorInfo ids = file.GetTensor("ids");
        Assert.Equal(SafeTensorsDType.I64, ids.DType);
        var e = Assert.Throws<SafeTensorsFormatException>(() => file.ReadFloats("ids"));
        Assert.Equal(SafeTensorsError.UnsupportedDType, e.Error);
        Assert.Equal("ids", e.TensorName);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("I64", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AcceptsTrailingWhiteSpacePadding()
    {
        string path = _dir.Write("padded.safetensors", RawFile.Build(Header + " \t\r\n   ", Data()));
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        Assert.Equal(6, file.Tensors.Count);
    }

    [Fact]
    public void AcceptsAnEmptyFile()
    {
        string path = _dir.Write("empty.safetensors", RawFile.Build("{}      ", []));
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        Assert.Empty(file.Tensors);
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void SkipsFieldsTheFormatDoesNotDefine()
    {
        const string header = """{"a":{"extra":{"nested":[1,2,{"x":null}]},"dtype":"F32","shape":[1],"data_offsets":[0,4],"more":"x"},"__metadata__":null}""";
        string path = _dir.Write("extra.safetensors", RawFile.Build(header, RawFile.F32(5f)));
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        Assert.Equal([5f], file.ReadFloats("a"));
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void LoadsALayerFromAHandAssembledStateDict()
    {
        // A bare nn.MultiheadAttention(4, 1, bias=False) state dict: in_proj_weight [12, 4], out_proj.weight [4, 4].
        var layout = LayerLayout.Create(modelDim: 4, heads: 1, kvHeads: 1, headDim: 4, bias: false);
        float[] inProj = Enumerable.Range(0, 48).Select(i => i * 0.5f).ToArray();
        float[] outProj = Enumerable.Range(0, 16).Select(i => -i * 0.25f).ToArray();
        const string header = """{"in_proj_weight":{"dtype":"F32","shape":[12,4],"data_offsets":[0,192]},"out_proj.weight":{"dtype":"F32","shape":[4,4],"data_offsets":[192,256]}}""";
        string path = _dir.Write("mha.safetensors", RawFile.Build(header, [.. RawFile.F32(inProj), .. RawFile.F32(outProj)]));

        float[] block = new float[layout.BlockLength];
        layout.Load(path, block);

        Assert.Equal(inProj, block.AsSpan(layout["in_proj_weight"].Offset, 48).ToArray());
        Assert.Equal(outProj, block.AsSpan(layout["out_proj.weight"].Offset, 16).ToArray());
    }
}
