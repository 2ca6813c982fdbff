using System.Text;
using AttnGen.Runtime.Tests.Support;

namespace AttnGen.Runtime.Tests.SafeTensors;

/// <summary>
/// Every way a file can break the format, one case each: the reader must throw
/// <see cref="SafeTensorsFormatException"/> with the right <see cref="SafeTensorsError"/>, naming the file
/// and the tensor at fault.
/// </summary>
public sealed class InvalidFileTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>One broken file: its bytes, the expected error and the tensor it must name (null: none).</summary>
    public sealed record Case(Func<byte[]> Bytes, SafeTensorsError Error, string? Tensor);

    private static Case Header(string header, int dataBytes, SafeTensorsError error, string? tensor)
        => new(() => RawFile.Build(header, new byte[dataBytes]), error, tensor);

    private static Case Entry(string entry, int dataBytes, SafeTensorsError error)
        => Header("{\"t\":" + entry + "}", dataBytes, error, "t");

    private static readonly Dictionary<string, Case> s_cases = new()
    {
        // The length field and the header's bounds.
        ["empty file"] = new(() => [], SafeTensorsError.FileTooShort, null),
        ["7-byte file"] = new(() => new byte[7], SafeTensorsError.FileTooShort, null),
        ["header length over 100,000,000"] = new(() => RawFile.Build("{}"u8, [], lengthField: 100_000_001), SafeTensorsError.HeaderTooLarge, null),
        ["header length 2^64 - 1"] = new(() => RawFile.Build("{}"u8, [], lengthField: ulong.MaxValue), SafeTensorsError.HeaderTooLarge, null),
        ["header length at the limit but past the end"] = new(() => RawFile.Build("{}"u8, [], lengthField: 100_000_000), SafeTensorsError.HeaderPastEndOfFile, null),
        ["header length one past the end"] = new(() => RawFile.Build("{}"u8, [], lengthField: 3), SafeTensorsError.HeaderPastEndOfFile, null),

        // The header text.
        ["header not UTF-8"] = new(() => RawFile.Build([(byte)'{', (byte)'"', 0xFF, 0xFE, (byte)'"', (byte)':', (byte)'1', (byte)'}'], []), SafeTensorsError.HeaderNotUtf8, null),
        ["header empty"] = Header("", 0, SafeTensorsError.HeaderNotJsonObject, null),
        ["header an array"] = Header("[]", 0, SafeTensorsError.HeaderNotJsonObject, null),
        ["header a string"] = Header("\"t\"", 0, SafeTensorsError.HeaderNotJsonObject, null),
        ["header with leading space"] = Header(" {}", 0, SafeTensorsError.HeaderNotJsonObject, null),
        ["header with a byte-order mark"] = Header("\uFEFF{}", 0, SafeTensorsError.HeaderNotJsonObject, null),
        ["header cut short"] = Header("""{"t":{"dtype":"F32","sha""", 0, SafeTensorsError.MalformedJson, "t"),
        ["header object not closed"] = Header("""{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}""", 4, SafeTensorsError.MalformedJson, null),
        ["trailing comma"] = Header("""{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],}}""", 4, SafeTensorsError.MalformedJson, "t"),
        ["comment"] = Header("""{/* c */"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4, SafeTensorsError.MalformedJson, null),
        ["text after the object"] = Header("""{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}} x""", 4, SafeTensorsError.MalformedJson, null),
        ["second object after the first"] = Header("""{}{}""", 0, SafeTensorsError.MalformedJson, null),
        ["NUL padding"] = Header("{}\0\0\0\0\0\0", 0, SafeTensorsError.MalformedJson, null),
        ["lone surrogate in a name"] = Header("""{"\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4, SafeTensorsError.MalformedJson, null),
        ["nesting deeper than 64"] = Header("{\"t\":{\"x\":" + new string('[', 100) + new string(']', 100) + ",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, SafeTensorsError.MalformedJson, "t"),

        // __metadata__.
        ["metadata value not a string"] = Header("""{"__metadata__":{"k":1}}""", 0, SafeTensorsError.InvalidMetadata, null),
        ["metadata an array"] = Header("""{"__metadata__":["k"]}""", 0, SafeTensorsError.InvalidMetadata, null),
        ["metadata key twice"] = Header("""{"__metadata__":{"k":"a","k":"b"}}""", 0, SafeTensorsError.InvalidMetadata, null),
        ["metadata twice"] = Header("""{"__metadata__":{},"__metadata__":{}}""", 0, SafeTensorsError.InvalidMetadata, null),

        // Malformed entries.
        ["entry a number"] = Entry("1", 0, SafeTensorsError.InvalidTensorEntry),
        ["entry null"] = Entry("null", 0, SafeTensorsError.InvalidTensorEntry),
        ["entry without dtype"] = Entry("""{"shape":[1],"data_offsets":[0,4]}""", 4, SafeTensorsError.InvalidTensorEntry),
        ["entry without shape"] = Entry("""{"dtype":"F32","data_offsets":[0,4]}""", 4, SafeTensorsError.InvalidTensorEntry),
        ["entry without data_offsets"] = Entry("""{"dtype":"F32","shape":[1]}""", 4, SafeTensorsError.InvalidTensorEntry),
        ["dtype a number"] = Entry("""{"dtype":32,"shape":[1],"data_offsets":[0,4]}""", 4, SafeTensorsError.InvalidTensorEntry),
        ["shape a string"] = Entry("""{"dtype":"F32","shape":"[1]","data_offsets":[0,4]}""", 4, SafeTensorsError.InvalidTensorEntry),
        ["data_offsets an object"] = Entry("""{"dtype":"F32","shape":[1],"data_offsets":{"begin":0,"end":4}}""", 4, SafeTensorsError.InvalidTensorEntry),
        ["data_offsets with one item"] = Entry("""{"dtype":"F32","shape":[1],"data_offsets":[0]}""", 4, SafeTensorsError.InvalidTensorEntry),
        ["data_offsets with three items"] = Entry("""{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}""", 4, SafeTensorsError.InvalidTensorEntry),
        ["data_offsets item a string"] = Entry("""{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}""", 4, SafeTensorsError.InvalidTensorEntry),
        ["field given twice"] = Entry("""{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}""", 4, SafeTensorsError.InvalidTensorEntry),

        // Shapes.
        ["negative dimension"] = Entry("""{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}""", 4, SafeTensorsError.InvalidShape),
        ["fractional dimension"] = Entry("""{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}""", 4, SafeTensorsError.InvalidShape),
        ["dimension with exponent"] = Entry("""{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}""", 4, SafeTensorsError.InvalidShape),
        ["dimension null"] = Entry("""{"dtype":"F32","shape":[null],"data_offsets":[0,4]}""", 4, SafeTensorsError.InvalidShape),

        // Dtypes.
        ["unknown dtype"] = Entry("""{"dtype":"F128","shape":[1],"data_offsets":[0,16]}""", 16, SafeTensorsError.UnknownDType),
        ["dtype in lower case"] = Entry("""{"dtype":"f32","shape":[1],"data_offsets":[0,4]}""", 4, SafeTensorsError.UnknownDType),
        ["PyTorch dtype name"] = Entry("""{"dtype":"float32","shape":[1],"data_offsets":[0,4]}""", 4, SafeTensorsError.UnknownDType),

        // Names.
        ["duplicate name"] = Header("""{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, SafeTensorsError.DuplicateTensorName, "t"),
        ["duplicate name spelled with an escape"] = Header("""{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\u0074":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, SafeTensorsError.DuplicateTensorName, "t"),

        // Offsets.
        ["end before begin"] = Entry("""{"dtype":"F32","shape":[0],"data_offsets":[4,0]}""", 4, SafeTensorsError.InvalidOffsets),
        ["negative offset"] = Entry("""{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}""", 4, SafeTensorsError.InvalidOffsets),
        ["gap before the first tensor"] = Entry("""{"dtype":"F32","shape":[1],"data_offsets":[4,8]}""", 8, SafeTensorsError.InvalidOffsets),
        ["gap between tensors"] = Header("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12, SafeTensorsError.InvalidOffsets, "t"),
        ["overlapping tensors"] = Header("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, SafeTensorsError.InvalidOffsets, "t"),
        ["same offsets twice"] = Header("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 4, SafeTensorsError.InvalidOffsets, "t"),
        ["offsets past the end of the file"] = Entry("""{"dtype":"F32","shape":[2],"data_offsets":[0,8]}""", 4, SafeTensorsError.InvalidOffsets),
        ["offset beyond 64 bits"] = Entry("""{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}""", 4, SafeTensorsError.SizeOverflow),

        // Sizes.
        ["shape needs more bytes than the offsets give"] = Entry("""{"dtype":"F32","shape":[2],"data_offsets":[0,4]}""", 4, SafeTensorsError.SizeMismatch),
        ["shape needs fewer bytes than the offsets give"] = Entry("""{"dtype":"F16","shape":[1],"data_offsets":[0,4]}""", 4, SafeTensorsError.SizeMismatch),
        ["packed dtype not filling whole bytes"] = Entry("""{"dtype":"F4","shape":[3],"data_offsets":[0,2]}""", 2, SafeTensorsError.SizeMismatch),
        ["element count overflows 64 bits"] = Entry("""{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,4]}""", 4, SafeTensorsError.SizeOverflow),
        ["byte length overflows 64 bits"] = Entry("""{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]}""", 8, SafeTensorsError.SizeOverflow),
        ["dimension beyond a signed 64-bit count"] = Entry("""{"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,8]}""", 8, SafeTensorsError.SizeOverflow),
        ["dimension beyond 64 bits"] = Entry("""{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,8]}""", 8, SafeTensorsError.SizeOverflow),

        // Coverage of the data.
        ["bytes after the last tensor"] = Entry("""{"dtype":"F32","shape":[1],"data_offsets":[0,4]}""", 8, SafeTensorsError.TrailingBytes),
        ["data but no tensors"] = Header("{}", 4, SafeTensorsError.TrailingBytes, null),
    };

    public static TheoryData<string> CaseNames => new(s_cases.Keys);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void IsRejected(string name)
    {
        Case c = s_cases[name];
        string path = _dir.Write("broken.safetensors", c.Bytes());

        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());

        Assert.Equal(c.Error, e.Error);
        Assert.Equal(path, e.FilePath);
        Assert.Equal(c.Tensor, e.TensorName);
        Assert.Contains($"'{path}'", e.Message, StringComparison.Ordinal);
        if (c.Tensor is not null)
        {
            Assert.Contains($"tensor '{c.Tensor}'", e.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void IsRejectedByLayerLoadWithoutChangingTheBlock(string name)
    {
        var layout = LayerLayout.Create(modelDim: 4, heads: 2, kvHeads: 2, headDim: 2);
        string path = _dir.Write("broken.safetensors", s_cases[name].Bytes());
        float[] block = layout.NewBlock(seed: 3, padding: 9f);
        float[] before = (float[])block.Clone();

        Assert.Throws<SafeTensorsFormatException>(() => layout.Load(path, block));

        Assert.Equal(before, block);
    }

    [Fact]
    public void UnsupportedDTypeNamesTheDTypeAndTheTensor()
    {
        string path = _dir.Write("ints.safetensors", RawFile.Build("""{"steps":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}""", new byte[16]));
        using SafeTensorsFile file = SafeTensorsFile.Open(path);

        var e = Assert.Throws<SafeTensorsFormatException>(() => file.ReadFloats("steps"));

        Assert.Equal(SafeTensorsError.UnsupportedDType, e.Error);
        Assert.Equal("steps", e.TensorName);
        Assert.Contains("tensor 'steps'", e.Message, StringComparison.Ordinal);
        Assert.Contains("I64", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryDTypeTheFormatDefinesIsRecognised()
    {
        foreach (SafeTensorsDType dtype in Enum.GetValues<SafeTensorsDType>())
        {
            // Eight elements fill whole bytes for every width, the packed 4- and 6-bit ones included.
            int bits = dtype switch
            {
                SafeTensorsDType.F4 => 4,
                SafeTensorsDType.F6_E2M3 or SafeTensorsDType.F6_E3M2 => 6,
                SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.I16 or SafeTensorsDType.U16 => 16,
                SafeTensorsDType.F32 or SafeTensorsDType.I32 or SafeTensorsDType.U32 => 32,
                SafeTensorsDType.F64 or SafeTensorsDType.I64 or SafeTensorsDType.U64 or SafeTensorsDType.C64 => 64,
                _ => 8,
            };
            string header = $$$"""{"t":{"dtype":"{{{dtype}}}","shape":[8],"data_offsets":[0,{{{bits}}}]}}""";
            string path = _dir.Write($"{dtype}.safetensors", RawFile.Build(header, new byte[bits]));
            using SafeTensorsFile file = SafeTensorsFile.Open(path);
            Assert.Equal(dtype, file.GetTensor("t").DType);
        }
    }

    [Fact]
    public void TorchSaveFileIsRecognised()
    {
        // torch.save writes a zip archive: its first bytes, read as a header length, are far too large.
        string path = _dir.Write("model.pt", [(byte)'P', (byte)'K', 3, 4, 20, 0, 0, 0, 8, 0, 0, 0]);

        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());

        Assert.Equal(SafeTensorsError.HeaderTooLarge, e.Error);
        Assert.Contains("torch.save", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingFileIsAFileNotFoundException()
    {
        Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Open(_dir.File("absent.safetensors")));
    }

    [Fact]
    public void MessagesAreShortEvenForHugeValues()
    {
        string header = "{\"t\":{\"dtype\":\"" + new string('X', 100_000) + "\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        string path = _dir.Write("long.safetensors", RawFile.Build(Encoding.UTF8.GetBytes(header), new byte[4]));

        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());

        Assert.Equal(SafeTensorsError.UnknownDType, e.Error);
        Assert.True(e.Message.Length < 1000, e.Message);
    }
}
