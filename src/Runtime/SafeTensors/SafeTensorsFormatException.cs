namespace AttnGen;

/// <summary>
/// A safetensors file is malformed, or holds a tensor that cannot be read as requested. The message names
/// the file, the tensor when one is at fault, and what was wrong.
/// </summary>
/// <remarks>
/// It is an <see cref="IOException"/> (<see cref="InvalidDataException"/> is sealed), so one
/// <c>catch (IOException)</c> around a load handles a missing file and a malformed one alike.
/// </remarks>
public sealed class SafeTensorsFormatException : IOException
{
    /// <summary>Creates the exception; the message is composed from the file, the tensor and the problem.</summary>
    /// <param name="filePath">The file that was read.</param>
    /// <param name="tensorName">The tensor at fault, or <see langword="null"/> for a problem with the file as a whole.</param>
    /// <param name="error">Which check failed.</param>
    /// <param name="problem">What was wrong, as one sentence.</param>
    /// <param name="innerException">The underlying exception, if any.</param>
    public SafeTensorsFormatException(string filePath, string? tensorName, SafeTensorsError error, string problem, Exception? innerException = null)
        : base(Compose(filePath, tensorName, problem), innerException)
    {
        FilePath = filePath;
        TensorName = tensorName;
        Error = error;
    }

    /// <summary>The file that was read.</summary>
    public string FilePath { get; }

    /// <summary>The tensor at fault, or <see langword="null"/> when the problem is with the file as a whole.</summary>
    public string? TensorName { get; }

    /// <summary>Which check failed.</summary>
    public SafeTensorsError Error { get; }

    private static string Compose(string filePath, string? tensorName, string problem)
        => tensorName is null
            ? $"Invalid safetensors file '{filePath}': {problem}"
            : $"Invalid safetensors file '{filePath}', tensor '{tensorName}': {problem}";
}
