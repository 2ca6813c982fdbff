namespace AttnGen;

/// <summary>What was wrong with a safetensors file (see <see cref="SafeTensorsFormatException.Error"/>).</summary>
public enum SafeTensorsError
{
    /// <summary>The file is shorter than the 8-byte header length.</summary>
    FileTooShort,

    /// <summary>The header length is above the format's limit of 100,000,000 bytes.</summary>
    HeaderTooLarge,

    /// <summary>The header length runs past the end of the file.</summary>
    HeaderPastEndOfFile,

    /// <summary>The header bytes are not valid UTF-8.</summary>
    HeaderNotUtf8,

    /// <summary>The header is not a JSON object (it must start with <c>{</c>).</summary>
    HeaderNotJsonObject,

    /// <summary>The header is not well-formed JSON, or has something other than padding after the object.</summary>
    MalformedJson,

    /// <summary><c>__metadata__</c> is not an object of string values, or repeats a key.</summary>
    InvalidMetadata,

    /// <summary>A tensor entry is not an object, lacks <c>dtype</c>, <c>shape</c> or <c>data_offsets</c>, or has a value of the wrong type.</summary>
    InvalidTensorEntry,

    /// <summary>A tensor's shape has a negative, fractional or too large dimension.</summary>
    InvalidShape,

    /// <summary>A tensor's dtype is not one the format defines.</summary>
    UnknownDType,

    /// <summary>A tensor's dtype is defined by the format but cannot be converted to <see cref="float"/>.</summary>
    UnsupportedDType,

    /// <summary>Two tensors have the same name.</summary>
    DuplicateTensorName,

    /// <summary>A tensor's data offsets end before they begin, leave a gap, overlap another tensor or run past the end of the file.</summary>
    InvalidOffsets,

    /// <summary>A tensor's shape times its element size is not the length its offsets give.</summary>
    SizeMismatch,

    /// <summary>A tensor's element count or byte length overflows 64-bit arithmetic.</summary>
    SizeOverflow,

    /// <summary>Bytes follow the last tensor: the tensors must cover the data exactly.</summary>
    TrailingBytes,

    /// <summary>
    /// The file ended before bytes its header promised, though it was long enough when it was opened: another
    /// process truncated or rewrote it while it was being read.
    /// </summary>
    FileTruncated,
}
