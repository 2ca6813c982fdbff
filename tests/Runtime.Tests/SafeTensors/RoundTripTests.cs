using System.Buffers.Binary;
using System.Text;
using AttnGen.Runtime.Tests.Support;

namespace AttnGen.Runtime.Tests.SafeTensors;

public sealed class RoundTripTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Seeded values plus the awkward ones: zeros, extremes, subnormals, infinities, values between bfloat16 steps.</summary>
    private static float[] Values(int count, ulong seed)
    {
        float[] special =
        [
            0f, -0f, 1f, -1f, float.MaxValue, float.MinValue, float.Epsilon, -float.Epsilon, 1e-40f,
            float.PositiveInfinity, float.NegativeInfinity, 65504f, 65520f, 1e5f, 6e-8f, 3e-8f,
            BitConverter.UInt32BitsToSingle(0x3F808000), BitConverter.UInt32BitsToSingle(0x3F818000),
            BitConverter.UInt32BitsToSingle(0x3F808001), BitConverter.UInt32BitsToSingle(0x7F7FFFFF),
        ];
        var values = new float[count];
        var random = new SeededRandom(seed);
        for (int i = 0; i < count; i++)
        {
            values[i] = i < special.Length ? special[i] : (float)(random.NextGaussian() * Math.Pow(10, random.NextUniform(-6, 6)));
        }
        return values;
    }

    /// <summary>
    /// The bfloat16 nearest to <paramref name="value"/>, ties to even, found by comparing the two
    /// neighbouring bfloat16 values in double precision (an independent check of the library's bit trick).
    /// </summary>
    private static float NearestBFloat16(float value)
    {
        if (float.IsNaN(value) || float.IsInfinity(value))
        {
            return value;
        }
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint down = bits & 0xFFFF0000u;
        uint up = down + 0x10000u;
        double below = BitConverter.UInt32BitsToSingle(down);
        double above = BitConverter.UInt32BitsToSingle(up); // infinity past the largest bfloat16, whose next step would be 2^120 further
        double dBelow = Math.Abs(value - below);
        double dAbove = double.IsInfinity(above) ? Math.Abs(value - (below + Math.CopySign(Math.Pow(2, 120), value))) : Math.Abs(value - above);
        if (dBelow < dAbove || (dBelow == dAbove && (down & 0x10000u) == 0))
        {
            return (float)below;
        }
        return BitConverter.UInt32BitsToSingle(up);
    }

    private static float Expected(SafeTensorsDType dtype, float value) => dtype switch
    {
        SafeTensorsDType.F32 => value,
        SafeTensorsDType.F16 => (float)(Half)value,
        _ => NearestBFloat16(value),
    };

    [Theory]
    [InlineData(SafeTensorsDType.F32)]
    [InlineData(SafeTensorsDType.F16)]
    [InlineData(SafeTensorsDType.BF16)]
    public void LayerSavesAndLoads(SafeTensorsDType dtype)
    {
        var layout = LayerLayout.Create(modelDim: 24, heads: 4, kvHeads: 2, headDim: 6, additive: true);
        float[] block = new float[layout.BlockLength];
        foreach (LayerParameter p in layout.Parameters)
        {
            Values(p.Length, (ulong)p.Offset + 1).CopyTo(block, p.Offset);
        }
        string path = _dir.File("layer.safetensors");
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["epoch"] = "3" };

        layout.Save(path, block, prefix: "model.attn.", dtype: dtype, metadata: metadata);
        float[] loaded = new float[layout.BlockLength];
        layout.Load(path, loaded, prefix: "model.attn.");

        foreach (LayerParameter p in layout.Parameters)
        {
            float[] expected = block.AsSpan(p.Offset, p.Length).ToArray().Select(v => Expected(dtype, v)).ToArray();
            Assert.Equal(expected, loaded.AsSpan(p.Offset, p.Length).ToArray());
        }
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        Assert.Equal(metadata, file.Metadata);
        Assert.Equal(layout.Parameters.Select(p => "model.attn." + p.Name), file.Tensors.Select(t => t.Name));
        Assert.All(file.Tensors, t => Assert.Equal(dtype, t.DType));
        Assert.Equal(layout.Parameters.Select(p => p.Shape.Select(d => (long)d)), file.Tensors.Select(t => t.Shape.AsEnumerable()));
    }

    [Fact]
    public void BFloat16RoundsToNearestEven()
    {
        (uint In, ushort Out)[] cases =
        [
            (0x3F800000, 0x3F80), // 1: exact
            (0x3F808000, 0x3F80), // halfway, kept half even: down
            (0x3F818000, 0x3F82), // halfway, kept half odd: up
            (0x3F808001, 0x3F81), // past halfway: up
            (0x3F807FFF, 0x3F80), // below halfway: down
            (0xBF818000, 0xBF82), // negative halfway, odd: away from zero
            (0x7F7FFFFF, 0x7F80), // largest float: rounds to infinity
            (0x00000001, 0x0000), // smallest subnormal: to zero
            (0x7F800000, 0x7F80), // infinity stays
        ];
        foreach ((uint input, ushort output) in cases)
        {
            Assert.Equal(output, FloatCodec.ToBFloat16Bits(BitConverter.UInt32BitsToSingle(input)));
        }
        ushort nan = FloatCodec.ToBFloat16Bits(BitConverter.UInt32BitsToSingle(0x7F800001)); // signalling NaN whose payload is all in the low half
        Assert.True(float.IsNaN(FloatCodec.FromBFloat16Bits(nan)));
        Assert.True(float.IsNaN(FloatCodec.FromBFloat16Bits(FloatCodec.ToBFloat16Bits(-float.NaN))));
    }

    [Fact]
    public void BFloat16AgreesWithTheNearestValueEverywhere()
    {
        var random = new SeededRandom(11);
        for (int i = 0; i < 200_000; i++)
        {
            float v = BitConverter.UInt32BitsToSingle((uint)random.NextUInt64());
            if (!float.IsNaN(v))
            {
                Assert.Equal(NearestBFloat16(v), FloatCodec.FromBFloat16Bits(FloatCodec.ToBFloat16Bits(v)));
            }
        }
    }

    [Fact]
    public void WriterLaysOutTheFormatExactly()
    {
        using var stream = new MemoryStream();
        var tensors = new[]
        {
            new SafeTensorDeclaration("a", [2], SafeTensorsDType.F32),
            new SafeTensorDeclaration("b", [1, 3], SafeTensorsDType.F16),
            new SafeTensorDeclaration("c", [], SafeTensorsDType.BF16),
            new SafeTensorDeclaration("d", [0, 7]),
        };
        SafeTensorsWriter writer = SafeTensorsWriter.Begin(stream, tensors, new Dictionary<string, string> { ["k"] = "v" });
        writer.WriteNext([1f, 2f]);
        writer.WriteNext([1f, -2f, 0.5f]);
        writer.WriteNext([3f]);
        writer.WriteNext([]);
        writer.Complete();

        byte[] bytes = stream.ToArray();
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, headerLength % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.Equal(
            """{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[1,3],"data_offsets":[8,14]},"c":{"dtype":"BF16","shape":[],"data_offsets":[14,16]},"d":{"dtype":"F32","shape":[0,7],"data_offsets":[16,16]}}""",
            header.TrimEnd(' '));
        Assert.Equal(
            [.. RawFile.F32(1f, 2f), .. RawFile.U16(0x3C00, 0xC000, 0x3800), .. RawFile.U16(0x4040)],
            bytes.AsSpan(8 + (int)headerLength).ToArray());
    }

    [Fact]
    public void WriterRejectsMisuse()
    {
        using var stream = new MemoryStream();
        Assert.Throws<ArgumentException>(() => new SafeTensorDeclaration("x", [-1]));
        Assert.Throws<ArgumentException>(() => new SafeTensorDeclaration("x", [1], SafeTensorsDType.I64));
        Assert.Throws<ArgumentException>(() => new SafeTensorDeclaration("__metadata__", [1]));
        Assert.Throws<ArgumentException>(() => new SafeTensorDeclaration("x", [65536, 65536]));
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Begin(stream, [new("x", [1]), new("x", [2])]));

        SafeTensorsWriter writer = SafeTensorsWriter.Begin(stream, [new("x", [2])]);
        Assert.Throws<ArgumentException>(() => writer.WriteNext([1f]));
        Assert.Throws<InvalidOperationException>(writer.Complete);
        writer.WriteNext([1f, 2f]);
        Assert.Throws<InvalidOperationException>(() => writer.WriteNext([1f, 2f]));
        writer.Complete();
    }

    [Fact]
    public void ReaderChecksItsArguments()
    {
        string path = _dir.Write("one.safetensors", RawFile.Build("""{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", RawFile.F32(1f, 2f)));
        string other = _dir.Write("two.safetensors", RawFile.Build("""{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", RawFile.F32(3f, 4f)));
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        using SafeTensorsFile second = SafeTensorsFile.Open(other);

        Assert.Throws<ArgumentException>(() => file.ReadFloats(file.GetTensor("t"), new float[3]));
        Assert.Throws<ArgumentException>(() => file.ReadFloats(second.GetTensor("t"), new float[2]));
        var missing = Assert.Throws<KeyNotFoundException>(() => file.GetTensor("u"));
        Assert.Contains(path, missing.Message, StringComparison.Ordinal);

        SafeTensorInfo t = file.GetTensor("t");
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.ReadFloats(t, new float[2]));
    }

    [Fact]
    public void LargeTensorsReadAcrossConversionChunks()
    {
        // More elements than one conversion step of the reader and of the writer.
        var layout = LayerLayout.Create(modelDim: 640, heads: 10, kvHeads: 10, headDim: 64, bias: false);
        float[] block = layout.NewBlock(seed: 5);
        string path = _dir.File("large.safetensors");
        layout.Save(path, block, dtype: SafeTensorsDType.BF16);

        float[] loaded = new float[layout.BlockLength];
        layout.Load(path, loaded);

        LayerParameter w = layout["in_proj_weight"];
        Assert.True(w.Length > 1 << 20);
        Assert.Equal(
            block.AsSpan(w.Offset, w.Length).ToArray().Select(NearestBFloat16).ToArray(),
            loaded.AsSpan(w.Offset, w.Length).ToArray());
    }
}
