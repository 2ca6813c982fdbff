using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using AttnGen.Runtime.Tests.Support;
using CsCheck;

namespace AttnGen.Runtime.Tests.SafeTensors;

/// <summary>
/// Valid files mutated at random (bytes flipped, files cut or extended, header text and numbers edited,
/// the length field changed): opening and loading must either succeed and agree with an independent
/// decoding of the bytes, or throw one of the library's typed exceptions with the block unchanged, and
/// every case must finish quickly.
/// </summary>
public sealed class MutationPropertyTests : IDisposable
{
    private const int Cases = 1500;
    private static readonly TimeSpan s_caseLimit = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_totalLimit = TimeSpan.FromSeconds(30);

    // 2 query heads and 1 key/value head of width 4, model width 8, with additive scoring vectors.
    private static readonly LayerLayout s_layout = LayerLayout.Create(modelDim: 8, heads: 2, kvHeads: 1, headDim: 4, additive: true);

    private static readonly string[] s_numbers =
        ["0", "1", "-1", "2", "4", "7", "8", "1.5", "1e3", "-0", "4294967296", "9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616", "99999999999999999999999"];

    private const string Alphabet = "{}[]\",:0123456789-.eE tfnul\\_aAFIB";

    private readonly TempDirectory _dir = new();
    private readonly List<(byte[] Bytes, string Prefix)> _bases = [];
    private int _caseNumber;

    public MutationPropertyTests()
    {
        float[] block = s_layout.NewBlock(seed: 1);
        _bases.Add((SaveLayer(block, "", SafeTensorsDType.F32, null), ""));
        _bases.Add((SaveLayer(block, "model.layers.0.attn.", SafeTensorsDType.BF16, new Dictionary<string, string> { ["format"] = "pt", ["step"] = "12" }), "model.layers.0.attn."));
        _bases.Add((SaveLayer(block, "a.", SafeTensorsDType.F16, null), "a."));
        _bases.Add((SeparateProjections(block), "p."));
        _bases.Add((HandAssembled(), ""));
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>One edit; the integers pick where and what, as <see cref="Apply"/> reads them.</summary>
    public sealed record Edit(int Kind, int A, int B, ulong C);

    public sealed record Mutation(int Base, Edit[] Edits);

    private static readonly Gen<Mutation> s_mutations =
        Gen.Select(
            Gen.Int[0, 4],
            Gen.Select(Gen.Int[0, 7], Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue], Gen.ULong, (k, a, b, c) => new Edit(k, a, b, c)).Array[1, 3],
            (b, e) => new Mutation(b, e));

    [Fact]
    public void MutatedFilesLoadCorrectlyOrFailWithTypedExceptions()
    {
        var total = Stopwatch.StartNew();
        int accepted = 0;
        // Fixed seeds, one case each: the same cases on every run, and a failing one reports its seed.
        for (uint i = 0; i < Cases; i++)
        {
            string seed = new PCG(7, 1000 + i).ToString();
            s_mutations.Sample(m =>
            {
                var watch = Stopwatch.StartNew();
                if (RunCase(m))
                {
                    accepted++;
                }
                Assert.True(watch.Elapsed < s_caseLimit, $"A case took {watch.Elapsed}.");
            }, seed: seed, iter: 1, threads: 1);
        }
        Assert.True(total.Elapsed < s_totalLimit, $"{Cases} cases took {total.Elapsed}.");
        // Some mutations keep the file valid (a flipped data byte, a rewritten metadata string): the
        // success path is exercised too.
        Assert.InRange(accepted, 1, Cases - 1);
    }

    /// <summary>Runs one mutated file; returns whether the reader accepted it.</summary>
    private bool RunCase(Mutation m)
    {
        (byte[] original, string prefix) = _bases[m.Base];
        byte[] bytes = original;
        foreach (Edit e in m.Edits)
        {
            bytes = Apply(bytes, e);
        }
        string path = _dir.Write($"case{_caseNumber++}.safetensors", bytes);
        try
        {
            bool accepted;
            try
            {
                using SafeTensorsFile file = SafeTensorsFile.Open(path);
                CheckAgainstIndependentDecoding(file, bytes);
                accepted = true;
            }
            catch (SafeTensorsFormatException e)
            {
                Assert.Equal(path, e.FilePath);
                accepted = false;
            }

            float[] block = s_layout.NewBlock(seed: 2, padding: 3f);
            float[] before = (float[])block.Clone();
            try
            {
                s_layout.Load(path, block, prefix);
                Assert.True(accepted, "Load succeeded on a file the reader rejected.");
                CheckLoadedBlock(block, bytes, path, prefix);
            }
            catch (Exception e) when (e is SafeTensorsFormatException or CheckpointMismatchException)
            {
                Assert.Equal(before, block);
            }
            return accepted;
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static byte[] Apply(byte[] file, Edit e)
    {
        if (file.Length == 0)
        {
            return [(byte)e.C];
        }
        (int start, int length) = HeaderRange(file);
        switch (e.Kind)
        {
            case 0: // flip bits of one byte anywhere
            {
                byte[] copy = (byte[])file.Clone();
                copy[e.A % copy.Length] ^= (byte)(1 + e.B % 255);
                return copy;
            }
            case 1: // truncate
                return file[..(e.A % file.Length)];
            case 2: // append a few bytes
                return [.. file, .. Enumerable.Repeat((byte)e.C, 1 + e.B % 16)];
            case 3: // replace one header character, keeping the length field
            {
                if (length == 0)
                {
                    return Apply(file, e with { Kind = 0 });
                }
                byte[] copy = (byte[])file.Clone();
                copy[start + e.A % length] = (byte)Alphabet[e.B % Alphabet.Length];
                return copy;
            }
            case 4: // insert or delete one header character, fixing the length field
            {
                string header = Encoding.UTF8.GetString(file, start, length);
                int at = e.A % (header.Length + 1);
                header = e.C % 2 == 0 || at == header.Length
                    ? header.Insert(at, Alphabet[e.B % Alphabet.Length].ToString())
                    : header.Remove(at, 1);
                return WithHeader(file, start, length, header);
            }
            case 5: // replace one number in the header, fixing the length field
            {
                string header = Encoding.UTF8.GetString(file, start, length);
                var numbers = System.Text.RegularExpressions.Regex.Matches(header, "-?[0-9]+");
                if (numbers.Count == 0)
                {
                    return Apply(file, e with { Kind = 4 });
                }
                var match = numbers[e.A % numbers.Count];
                long old = long.TryParse(match.Value, out long v) ? v : 0;
                string replacement = (e.B % 4) switch
                {
                    0 => s_numbers[(int)(e.C % (ulong)s_numbers.Length)],
                    1 => (old + (long)(e.C % 9) - 4).ToString(System.Globalization.CultureInfo.InvariantCulture),
                    2 => (old * 2).ToString(System.Globalization.CultureInfo.InvariantCulture),
                    _ => e.C.ToString(System.Globalization.CultureInfo.InvariantCulture),
                };
                return WithHeader(file, start, length, string.Concat(header.AsSpan(0, match.Index), replacement, header.AsSpan(match.Index + match.Length)));
            }
            case 6: // replace one quoted string in the header by another from it (renames, duplicates, wrong dtypes)
            {
                string header = Encoding.UTF8.GetString(file, start, length);
                var strings = System.Text.RegularExpressions.Regex.Matches(header, "\"[^\"]*\"");
                if (strings.Count == 0)
                {
                    return Apply(file, e with { Kind = 3 });
                }
                var target = strings[e.A % strings.Count];
                string replacement = strings[e.B % strings.Count].Value;
                return WithHeader(file, start, length, string.Concat(header.AsSpan(0, target.Index), replacement, header.AsSpan(target.Index + target.Length)));
            }
            default: // rewrite the length field
            {
                byte[] copy = file.Length >= 8 ? (byte[])file.Clone() : [.. file, .. new byte[8 - file.Length]];
                ulong current = BinaryPrimitives.ReadUInt64LittleEndian(copy);
                ulong value = (e.B % 4) switch
                {
                    0 => current + (ulong)(e.A % 17) - 8,
                    1 => e.C,
                    2 => 100_000_001,
                    _ => (ulong)(e.A % (copy.Length + 1)),
                };
                BinaryPrimitives.WriteUInt64LittleEndian(copy, value);
                return copy;
            }
        }
    }

    /// <summary>Where the header text is, by the length field when it is plausible, else everything after it.</summary>
    private static (int Start, int Length) HeaderRange(byte[] file)
    {
        if (file.Length < 8)
        {
            return (file.Length, 0);
        }
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(file);
        return n <= (ulong)(file.Length - 8) ? (8, (int)n) : (8, file.Length - 8);
    }

    private static byte[] WithHeader(byte[] file, int start, int length, string header)
    {
        byte[] text = Encoding.UTF8.GetBytes(header);
        return RawFile.Build(text, file.AsSpan(start + length));
    }

    /// <summary>Parses the header with JsonDocument and decodes each float tensor from the raw bytes, and compares.</summary>
    private static void CheckAgainstIndependentDecoding(SafeTensorsFile file, byte[] bytes)
    {
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using JsonDocument doc = JsonDocument.Parse(bytes.AsMemory(8, n));
        var entries = doc.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__").ToList();
        Assert.Equal(entries.Count, file.Tensors.Count);
        Assert.Equal(bytes.Length - 8 - n, file.Tensors.Sum(t => t.ByteLength));
        foreach (JsonProperty entry in entries)
        {
            SafeTensorInfo tensor = file.GetTensor(entry.Name);
            Assert.Equal(entry.Value.GetProperty("dtype").GetString(), tensor.DType.ToString());
            Assert.Equal(entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()), tensor.Shape);
            Assert.Equal(entry.Value.GetProperty("data_offsets")[0].GetInt64(), tensor.DataBegin);
            Assert.Equal(entry.Value.GetProperty("data_offsets")[1].GetInt64(), tensor.DataEnd);
            if (tensor.DType is SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16)
            {
                Assert.Equal(Decode(bytes, 8 + n, tensor), file.ReadFloats(tensor.Name));
            }
        }
    }

    /// <summary>Checks every parameter of a loaded block against the raw bytes of its tensor(s).</summary>
    private static void CheckLoadedBlock(float[] block, byte[] bytes, string path, string prefix)
    {
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        foreach (LayerParameter p in s_layout.Parameters)
        {
            float[] expected = p.Name == "in_proj_weight" && !file.TryGetTensor(prefix + p.Name, out _)
                ? [.. Decode(bytes, 8 + n, file.GetTensor(prefix + "q_proj_weight")),
                   .. Decode(bytes, 8 + n, file.GetTensor(prefix + "k_proj_weight")),
                   .. Decode(bytes, 8 + n, file.GetTensor(prefix + "v_proj_weight"))]
                : Decode(bytes, 8 + n, file.GetTensor(prefix + p.Name));
            Assert.Equal(expected, block.AsSpan(p.Offset, p.Length).ToArray());
        }
    }

    private static float[] Decode(byte[] bytes, int dataStart, SafeTensorInfo tensor)
    {
        var values = new float[tensor.ElementCount];
        ReadOnlySpan<byte> data = bytes.AsSpan(dataStart + (int)tensor.DataBegin, (int)tensor.ByteLength);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = tensor.DType switch
            {
                SafeTensorsDType.F32 => BinaryPrimitives.ReadSingleLittleEndian(data[(4 * i)..]),
                SafeTensorsDType.F16 => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(data[(2 * i)..])),
                _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(data[(2 * i)..]) << 16),
            };
        }
        return values;
    }

    private byte[] SaveLayer(float[] block, string prefix, SafeTensorsDType dtype, IReadOnlyDictionary<string, string>? metadata)
    {
        string path = _dir.File($"base-{_bases.Count}.safetensors");
        s_layout.Save(path, block, prefix, dtype, metadata);
        return File.ReadAllBytes(path);
    }

    /// <summary>The layer with q/k/v stored separately, F16, among tensors of other modules.</summary>
    private static byte[] SeparateProjections(float[] block)
    {
        LayerParameter w = s_layout["in_proj_weight"];
        float[] inProj = block.AsSpan(w.Offset, w.Length).ToArray();
        (string Name, long[] Shape, float[] Values, SafeTensorsDType DType)[] tensors =
        [
            ("embed.weight", [3, 8], new float[24], SafeTensorsDType.BF16),
            ("p.q_proj_weight", [8, 8], inProj[..64], SafeTensorsDType.F16),
            ("p.k_proj_weight", [4, 8], inProj[64..96], SafeTensorsDType.F16),
            ("p.v_proj_weight", [4, 8], inProj[96..], SafeTensorsDType.F32),
            .. s_layout.Parameters.Where(p => p.Name != "in_proj_weight")
                .Select(p => ("p." + p.Name, p.Shape.Select(d => (long)d).ToArray(), block.AsSpan(p.Offset, p.Length).ToArray(), SafeTensorsDType.F32)),
        ];
        using var stream = new MemoryStream();
        SafeTensorsWriter writer = SafeTensorsWriter.Begin(stream, tensors.Select(t => new SafeTensorDeclaration(t.Name, t.Shape, t.DType)).ToArray());
        foreach (var t in tensors)
        {
            writer.WriteNext(t.Values);
        }
        writer.Complete();
        return stream.ToArray();
    }

    private static byte[] HandAssembled()
    {
        const string header = """{"__metadata__":{"k":"v"},"n":{"dtype":"I64","shape":[1],"data_offsets":[10,18]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"h":{"dtype":"F16","shape":[1],"data_offsets":[8,10]},"e":{"dtype":"BF16","shape":[0],"data_offsets":[18,18]}}""";
        return RawFile.Build(header, [.. RawFile.F32(1f, 2f), .. RawFile.U16(0x3C00), .. new byte[8]]);
    }
}
