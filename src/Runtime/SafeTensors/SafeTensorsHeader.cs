using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Unicode;

namespace AttnGen;

/// <summary>
/// The parsed and validated header of a safetensors file. Parsing checks everything the format promises:
/// the header length, UTF-8, a JSON object with well-formed entries and known dtypes, unique names, and
/// data offsets that tile the data exactly, each as long as its shape and dtype require.
/// </summary>
internal sealed class SafeTensorsHeader
{
    /// <summary>Bytes before the JSON header: its length as a little-endian unsigned 64-bit integer.</summary>
    public const int LengthPrefixSize = 8;

    /// <summary>The largest header the format allows, in bytes.</summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>Name of the header entry that holds free-form string metadata.</summary>
    public const string MetadataKey = "__metadata__";

    private static readonly JsonReaderOptions s_readerOptions = new()
    {
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = 64,
    };

    private SafeTensorsHeader(IReadOnlyDictionary<string, string> metadata, IReadOnlyList<SafeTensorInfo> tensors, IReadOnlyDictionary<string, SafeTensorInfo> byName)
    {
        Metadata = metadata;
        Tensors = tensors;
        ByName = byName;
    }

    /// <summary>The <c>__metadata__</c> map (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The tensors, in the order of their data.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    /// <summary>The tensors by name.</summary>
    public IReadOnlyDictionary<string, SafeTensorInfo> ByName { get; }

    /// <summary>
    /// Reads the header length from the first 8 bytes of a file of <paramref name="fileLength"/> bytes and
    /// checks that it is within the format's limit and inside the file.
    /// </summary>
    public static int ReadHeaderLength(string filePath, ReadOnlySpan<byte> prefix, long fileLength)
    {
        if (fileLength < LengthPrefixSize || prefix.Length < LengthPrefixSize)
        {
            throw FileTooShort(filePath, fileLength);
        }
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (length > MaxHeaderLength)
        {
            // torch.save writes a zip archive ("PK") or, in its legacy format, a pickle (protocol byte 0x80).
            string hint = prefix.StartsWith("PK"u8) || prefix[0] == 0x80
                ? " The file looks like a PyTorch torch.save file, not safetensors."
                : "";
            throw new SafeTensorsFormatException(filePath, null, SafeTensorsError.HeaderTooLarge,
                $"the header length is {length} bytes, more than the format's limit of {MaxHeaderLength:N0}.{hint}");
        }
        if ((long)length > fileLength - LengthPrefixSize)
        {
            throw new SafeTensorsFormatException(filePath, null, SafeTensorsError.HeaderPastEndOfFile,
                $"the header length is {length} bytes, but only {fileLength - LengthPrefixSize} bytes follow the length field.");
        }
        return (int)length;
    }

    /// <summary>The error for a file too short to hold the header length.</summary>
    public static SafeTensorsFormatException FileTooShort(string filePath, long fileLength)
        => new(filePath, null, SafeTensorsError.FileTooShort,
            $"the file has {fileLength} bytes, fewer than the {LengthPrefixSize} that hold the header length.");

    /// <summary>Parses and validates <paramref name="header"/>, followed in the file by <paramref name="dataLength"/> bytes of data.</summary>
    public static SafeTensorsHeader Parse(string filePath, ReadOnlySpan<byte> header, long dataLength)
    {
        if (!Utf8.IsValid(header))
        {
            throw new SafeTensorsFormatException(filePath, null, SafeTensorsError.HeaderNotUtf8, "the header is not valid UTF-8.");
        }
        if (header.IsEmpty || header[0] != (byte)'{')
        {
            throw new SafeTensorsFormatException(filePath, null, SafeTensorsError.HeaderNotJsonObject,
                header.IsEmpty
                    ? "the header is empty; it must be a JSON object."
                    : $"the header must be a JSON object starting with '{{', but its first byte is 0x{header[0]:X2}.");
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<RawEntry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        bool sawMetadata = false;
        string? current = null;
        try
        {
            var reader = new Utf8JsonReader(header, s_readerOptions);
            reader.Read(); // the '{' checked above
            while (true)
            {
                Next(ref reader, filePath, current);
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    break;
                }
                current = reader.GetString()!;
                if (current == MetadataKey)
                {
                    if (sawMetadata)
                    {
                        throw new SafeTensorsFormatException(filePath, null, SafeTensorsError.InvalidMetadata, $"'{MetadataKey}' appears twice.");
                    }
                    sawMetadata = true;
                    ReadMetadata(ref reader, filePath, metadata);
                }
                else
                {
                    if (!names.Add(current))
                    {
                        throw new SafeTensorsFormatException(filePath, current, SafeTensorsError.DuplicateTensorName, "the name appears more than once in the header.");
                    }
                    entries.Add(ReadEntry(ref reader, filePath, current, entries.Count));
                }
                current = null;
            }
            // Only JSON white space (the writer's padding) may follow the object.
            if (reader.Read())
            {
                throw new SafeTensorsFormatException(filePath, null, SafeTensorsError.MalformedJson,
                    $"the header has content after its JSON object, at byte {reader.TokenStartIndex} of the header.");
            }
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException(filePath, current, SafeTensorsError.MalformedJson,
                $"the header is not well-formed JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            // Utf8JsonReader.GetString on a string whose escapes do not form valid UTF-16 (a lone surrogate).
            throw new SafeTensorsFormatException(filePath, current, SafeTensorsError.MalformedJson,
                $"the header has a string that cannot be decoded: {e.Message}", e);
        }

        return Validate(filePath, metadata, entries, dataLength);
    }

    private static SafeTensorsHeader Validate(string filePath, Dictionary<string, string> metadata, List<RawEntry> entries, long dataLength)
    {
        // Order by data, as the format does; equal offsets (empty tensors) keep their header order.
        entries.Sort(static (a, b) =>
        {
            int c = a.Begin.CompareTo(b.Begin);
            if (c == 0)
            {
                c = a.End.CompareTo(b.End);
            }
            return c != 0 ? c : a.Index.CompareTo(b.Index);
        });

        var tensors = new SafeTensorInfo[entries.Count];
        var byName = new Dictionary<string, SafeTensorInfo>(entries.Count, StringComparer.Ordinal);
        ulong cursor = 0;
        string? previous = null;
        for (int i = 0; i < entries.Count; i++)
        {
            RawEntry e = entries[i];
            string offsets = $"data_offsets [{e.Begin}, {e.End}]";
            if (e.End < e.Begin)
            {
                throw new SafeTensorsFormatException(filePath, e.Name, SafeTensorsError.InvalidOffsets, $"{offsets} end before they begin.");
            }
            if (e.Begin > cursor)
            {
                throw new SafeTensorsFormatException(filePath, e.Name, SafeTensorsError.InvalidOffsets, previous is null
                    ? $"{offsets} leave a gap: the first tensor must begin at 0."
                    : $"{offsets} leave a gap of {e.Begin - cursor} bytes after tensor '{previous}', which ends at {cursor}.");
            }
            if (e.Begin < cursor)
            {
                throw new SafeTensorsFormatException(filePath, e.Name, SafeTensorsError.InvalidOffsets,
                    $"{offsets} overlap tensor '{previous}', which ends at {cursor}.");
            }
            if (e.End > (ulong)dataLength)
            {
                throw new SafeTensorsFormatException(filePath, e.Name, SafeTensorsError.InvalidOffsets,
                    $"{offsets} run past the end of the file: the data after the header has {dataLength} bytes.");
            }

            string shapeText = SafeTensorInfo.FormatShape(e.Shape);
            ulong elements = 1;
            foreach (long d in e.Shape)
            {
                if (!TryMultiply(elements, (ulong)d, out elements))
                {
                    throw new SafeTensorsFormatException(filePath, e.Name, SafeTensorsError.SizeOverflow,
                        $"the element count of shape {shapeText} overflows 64 bits.");
                }
            }
            int bits = SafeTensorsDTypes.BitSize(e.DType);
            if (!TryMultiply(elements, (ulong)bits, out ulong totalBits))
            {
                throw new SafeTensorsFormatException(filePath, e.Name, SafeTensorsError.SizeOverflow,
                    $"the byte length of shape {shapeText} with dtype {e.DType} overflows 64 bits.");
            }
            ulong actualBytes = e.End - e.Begin;
            if (totalBits % 8 != 0)
            {
                throw new SafeTensorsFormatException(filePath, e.Name, SafeTensorsError.SizeMismatch,
                    $"shape {shapeText} with dtype {e.DType} is {totalBits} bits, not a whole number of bytes.");
            }
            if (totalBits / 8 != actualBytes)
            {
                throw new SafeTensorsFormatException(filePath, e.Name, SafeTensorsError.SizeMismatch,
                    $"shape {shapeText} with dtype {e.DType} needs {totalBits / 8} bytes, but {offsets} give {actualBytes}.");
            }

            if (elements > long.MaxValue)
            {
                throw new SafeTensorsFormatException(filePath, e.Name, SafeTensorsError.SizeOverflow,
                    $"the element count of shape {shapeText} does not fit a signed 64-bit count.");
            }
            var info = new SafeTensorInfo(e.Name, e.DType, e.Shape, (long)elements, (long)e.Begin, (long)e.End);
            tensors[i] = info;
            byName.Add(e.Name, info);
            cursor = e.End;
            previous = e.Name;
        }

        if (cursor != (ulong)dataLength)
        {
            throw new SafeTensorsFormatException(filePath, previous, SafeTensorsError.TrailingBytes, previous is null
                ? $"the header declares no tensors, but {dataLength} bytes of data follow it."
                : $"the tensors end at byte {cursor} of the data, but the data after the header has {dataLength} bytes; they must cover it exactly.");
        }
        return new SafeTensorsHeader(metadata, tensors, byName);
    }

    private static void ReadMetadata(ref Utf8JsonReader reader, string filePath, Dictionary<string, string> metadata)
    {
        Next(ref reader, filePath, null);
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new SafeTensorsFormatException(filePath, null, SafeTensorsError.InvalidMetadata,
                $"'{MetadataKey}' must be an object of strings, but it is {Describe(reader.TokenType)}.");
        }
        while (true)
        {
            Next(ref reader, filePath, null);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return;
            }
            string key = reader.GetString()!;
            Next(ref reader, filePath, null);
            if (reader.TokenType != JsonTokenType.String)
            {
                throw new SafeTensorsFormatException(filePath, null, SafeTensorsError.InvalidMetadata,
                    $"'{MetadataKey}' value '{key}' must be a string, but it is {Describe(reader.TokenType)}.");
            }
            if (!metadata.TryAdd(key, reader.GetString()!))
            {
                throw new SafeTensorsFormatException(filePath, null, SafeTensorsError.InvalidMetadata,
                    $"'{MetadataKey}' has the key '{key}' more than once.");
            }
        }
    }

    private static RawEntry ReadEntry(ref Utf8JsonReader reader, string filePath, string name, int index)
    {
        Next(ref reader, filePath, name);
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new SafeTensorsFormatException(filePath, name, SafeTensorsError.InvalidTensorEntry,
                $"the entry must be an object with dtype, shape and data_offsets, but it is {Describe(reader.TokenType)}.");
        }

        SafeTensorsDType? dtype = null;
        long[]? shape = null;
        (ulong Begin, ulong End)? offsets = null;
        while (true)
        {
            Next(ref reader, filePath, name);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }
            string field = reader.GetString()!;
            Next(ref reader, filePath, name);
            switch (field)
            {
                case "dtype":
                    RejectRepeat(dtype.HasValue, filePath, name, field);
                    dtype = ReadDType(ref reader, filePath, name);
                    break;
                case "shape":
                    RejectRepeat(shape is not null, filePath, name, field);
                    shape = ReadShape(ref reader, filePath, name);
                    break;
                case "data_offsets":
                    RejectRepeat(offsets.HasValue, filePath, name, field);
                    offsets = ReadOffsets(ref reader, filePath, name);
                    break;
                default:
                    // Fields the format does not define are skipped, as the reference reader does.
                    reader.Skip();
                    break;
            }
        }

        string? missing = !dtype.HasValue ? "dtype" : shape is null ? "shape" : !offsets.HasValue ? "data_offsets" : null;
        if (missing is not null)
        {
            throw new SafeTensorsFormatException(filePath, name, SafeTensorsError.InvalidTensorEntry, $"the entry has no '{missing}'.");
        }
        return new RawEntry(name, index, dtype!.Value, ImmutableArray.Create(shape!), offsets!.Value.Begin, offsets.Value.End);
    }

    private static SafeTensorsDType ReadDType(ref Utf8JsonReader reader, string filePath, string name)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            throw new SafeTensorsFormatException(filePath, name, SafeTensorsError.InvalidTensorEntry,
                $"'dtype' must be a string, but it is {Describe(reader.TokenType)}.");
        }
        string text = reader.GetString()!;
        if (!SafeTensorsDTypes.TryParse(text, out SafeTensorsDType dtype))
        {
            throw new SafeTensorsFormatException(filePath, name, SafeTensorsError.UnknownDType,
                $"dtype '{Shorten(text)}' is not a safetensors dtype (the format defines {string.Join(", ", Enum.GetNames<SafeTensorsDType>())}).");
        }
        return dtype;
    }

    private static long[] ReadShape(ref Utf8JsonReader reader, string filePath, string name)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new SafeTensorsFormatException(filePath, name, SafeTensorsError.InvalidTensorEntry,
                $"'shape' must be an array of dimensions, but it is {Describe(reader.TokenType)}.");
        }
        var dims = new List<long>();
        while (true)
        {
            Next(ref reader, filePath, name);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                return dims.ToArray();
            }
            if (reader.TokenType != JsonTokenType.Number)
            {
                throw new SafeTensorsFormatException(filePath, name, SafeTensorsError.InvalidShape,
                    $"shape dimension {dims.Count} must be a non-negative integer, but it is {Describe(reader.TokenType)}.");
            }
            ulong value = ReadUnsigned(ref reader, filePath, name, $"shape dimension {dims.Count}", SafeTensorsError.InvalidShape);
            if (value > long.MaxValue)
            {
                throw new SafeTensorsFormatException(filePath, name, SafeTensorsError.SizeOverflow,
                    $"shape dimension {dims.Count} is {value}, larger than a tensor can be.");
            }
            dims.Add((long)value);
        }
    }

    private static (ulong, ulong) ReadOffsets(ref Utf8JsonReader reader, string filePath, string name)
    {
        const string Expectation = "'data_offsets' must be an array of two non-negative integers [begin, end]";
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new SafeTensorsFormatException(filePath, name, SafeTensorsError.InvalidTensorEntry,
                $"{Expectation}, but it is {Describe(reader.TokenType)}.");
        }
        Span<ulong> values = stackalloc ulong[2];
        int count = 0;
        while (true)
        {
            Next(ref reader, filePath, name);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                break;
            }
            if (reader.TokenType != JsonTokenType.Number || count == 2)
            {
                throw new SafeTensorsFormatException(filePath, name, SafeTensorsError.InvalidTensorEntry,
                    count == 2 ? $"{Expectation}, but it has more than two items." : $"{Expectation}, but item {count} is {Describe(reader.TokenType)}.");
            }
            values[count] = ReadUnsigned(ref reader, filePath, name, $"data_offsets item {count}", SafeTensorsError.InvalidOffsets);
            count++;
        }
        if (count != 2)
        {
            throw new SafeTensorsFormatException(filePath, name, SafeTensorsError.InvalidTensorEntry, $"{Expectation}, but it has {count} items.");
        }
        return (values[0], values[1]);
    }

    private static ulong ReadUnsigned(ref Utf8JsonReader reader, string filePath, string name, string what, SafeTensorsError error)
    {
        if (reader.TryGetUInt64(out ulong value))
        {
            return value;
        }
        ReadOnlySpan<byte> raw = reader.ValueSpan;
        string text = Shorten(System.Text.Encoding.UTF8.GetString(raw));
        if (raw[0] == (byte)'-')
        {
            throw new SafeTensorsFormatException(filePath, name, error, $"{what} is {text}, which is negative.");
        }
        if (raw.IndexOfAny("."u8) >= 0 || raw.IndexOfAny("eE"u8) >= 0)
        {
            throw new SafeTensorsFormatException(filePath, name, error, $"{what} is {text}, which is not a whole number.");
        }
        throw new SafeTensorsFormatException(filePath, name, SafeTensorsError.SizeOverflow, $"{what} is {text}, which does not fit 64 bits.");
    }

    private static void RejectRepeat(bool seen, string filePath, string name, string field)
    {
        if (seen)
        {
            throw new SafeTensorsFormatException(filePath, name, SafeTensorsError.InvalidTensorEntry, $"the entry has '{field}' more than once.");
        }
    }

    /// <summary>Advances the reader; the header ending early is malformed JSON.</summary>
    private static void Next(ref Utf8JsonReader reader, string filePath, string? name)
    {
        if (!reader.Read())
        {
            throw new SafeTensorsFormatException(filePath, name, SafeTensorsError.MalformedJson, "the header's JSON ends early.");
        }
    }

    private static bool TryMultiply(ulong a, ulong b, out ulong product)
    {
        ulong high = Math.BigMul(a, b, out product);
        return high == 0;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => token.ToString(),
    };

    private static string Shorten(string text) => text.Length <= 40 ? text : string.Concat(text.AsSpan(0, 40), "...");

    private readonly record struct RawEntry(string Name, int Index, SafeTensorsDType DType, ImmutableArray<long> Shape, ulong Begin, ulong End);
}
