using System.Diagnostics.CodeAnalysis;

namespace AttnGen;

/// <summary>
/// Argument checks of the runtime layer core and the training layers. Every failure is an <see cref="ArgumentException"/> (or
/// <see cref="ArgumentOutOfRangeException"/>) that names the argument, the expected and the actual value.
/// They run before a layer writes anything, so a rejected call leaves its outputs untouched.
/// </summary>
internal static class Guard
{
    /// <summary>Checks that a batch count is at least one and that the batch fits in an int-indexed span.</summary>
    public static void Batch(int batch, long elementsPerItem, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(batch))] string? name = null)
    {
        if (batch < 1)
        {
            throw new ArgumentOutOfRangeException(name, batch, $"'{name}' must be at least 1; it was {batch}.");
        }
        if (batch * elementsPerItem > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(name, batch,
                $"'{name}' = {batch} needs {batch * elementsPerItem} elements per tensor, more than a span can hold ({int.MaxValue}).");
        }
    }

    /// <summary>Checks that a span has exactly <c>batch * rows * width</c> elements.</summary>
    public static void Length(int actual, int batch, int rows, int width, string name)
    {
        long expected = (long)batch * rows * width;
        if (actual != expected)
        {
            throw new ArgumentException(
                $"'{name}' has length {actual}; expected {expected} = batch {batch} x {rows} rows x {width} columns.", name);
        }
    }

    /// <summary>
    /// Checks optional per-sequence valid lengths: empty, or one entry per batch item, each in
    /// <c>0..maxLength</c>.
    /// </summary>
    public static void ValidLengths(ReadOnlySpan<int> validLengths, int batch, int maxLength, string name)
    {
        if (validLengths.IsEmpty)
        {
            return;
        }
        if (validLengths.Length != batch)
        {
            throw new ArgumentException(
                $"'{name}' has length {validLengths.Length}; expected {batch} (one valid length per batch item) or none.", name);
        }
        for (int b = 0; b < validLengths.Length; b++)
        {
            int v = validLengths[b];
            if ((uint)v > (uint)maxLength)
            {
                throw new ArgumentOutOfRangeException(name, v,
                    $"'{name}[{b}]' is {v}; expected a valid length in 0..{maxLength}.");
            }
        }
    }

    /// <summary>
    /// Checks the spans of a self-attention <c>Forward</c>: <paramref name="output"/> may be exactly
    /// <paramref name="input"/> (in place: each sequence is projected whole before its output is written), but
    /// must not overlap it otherwise.
    /// </summary>
    public static void InPlaceOrDisjoint(ReadOnlySpan<float> input, ReadOnlySpan<float> output, string inputName, string outputName)
    {
        if (!SameMemory(input, output) && output.Overlaps(input, out int offset))
        {
            // The message is composed only here: the check itself allocates nothing.
            ThrowOverlap(output.Length, outputName, input.Length, inputName, offset, $"the same span as '{inputName}' (in place), or memory of its own");
        }
    }

    /// <summary>Checks that <paramref name="written"/>, a span the call writes, shares no memory with <paramref name="other"/>.</summary>
    public static void Disjoint(ReadOnlySpan<float> written, string writtenName, ReadOnlySpan<float> other, string otherName)
        => Disjoint(written, writtenName, other, otherName, OwnMemory);

    /// <summary>
    /// Checks that <paramref name="output"/>, which a call writes, shares no memory with the inputs it reads
    /// (inputs may overlap each other: they are only read).
    /// </summary>
    public static void OutputDisjoint(ReadOnlySpan<float> output, ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value)
    {
        Disjoint(output, nameof(output), query, nameof(query), OwnMemory);
        Disjoint(output, nameof(output), key, nameof(key), OwnMemory);
        Disjoint(output, nameof(output), value, nameof(value), OwnMemory);
    }

    /// <summary>
    /// Checks the spans of <c>Backward</c>: each gradient it writes shares no memory with
    /// <paramref name="outputGrad"/> nor with another gradient it writes. Pass empty spans for the key and value
    /// gradients it does not write.
    /// </summary>
    public static void GradientsDisjoint(ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> queryGrad, ReadOnlySpan<float> keyGrad, ReadOnlySpan<float> valueGrad)
    {
        Disjoint(queryGrad, nameof(queryGrad), outputGrad, nameof(outputGrad), OwnMemory);
        Disjoint(keyGrad, nameof(keyGrad), outputGrad, nameof(outputGrad), OwnMemory);
        Disjoint(valueGrad, nameof(valueGrad), outputGrad, nameof(outputGrad), OwnMemory);
        Disjoint(keyGrad, nameof(keyGrad), queryGrad, nameof(queryGrad), OwnMemory);
        Disjoint(valueGrad, nameof(valueGrad), queryGrad, nameof(queryGrad), OwnMemory);
        Disjoint(valueGrad, nameof(valueGrad), keyGrad, nameof(keyGrad), OwnMemory);
    }

    private const string OwnMemory = "memory of its own";

    private static bool SameMemory(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
        => a.Length == b.Length && System.Runtime.CompilerServices.Unsafe.AreSame(
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(a), ref System.Runtime.InteropServices.MemoryMarshal.GetReference(b));

    private static void Disjoint(ReadOnlySpan<float> written, string writtenName, ReadOnlySpan<float> other, string otherName, string expected)
    {
        if (written.Overlaps(other, out int offset))
        {
            ThrowOverlap(written.Length, writtenName, other.Length, otherName, offset, expected);
        }
    }

    [DoesNotReturn]
    private static void ThrowOverlap(int writtenLength, string writtenName, int otherLength, string otherName, int offset, string expected)
    {
        // offset: where 'other' starts, counted in floats from the start of 'written'.
        string where = offset >= 0
            ? $"'{otherName}' starts {offset} floats after the start of '{writtenName}'"
            : $"'{otherName}' starts {-offset} floats before the start of '{writtenName}'";
        throw new ArgumentException(
            $"'{writtenName}' ({writtenLength} floats) overlaps '{otherName}' ({otherLength} floats): {where}. " +
            $"A span the call writes must be {expected}.", writtenName);
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> for a disposed layer.</summary>
    public static void NotDisposed([DoesNotReturnIf(true)] bool disposed, object instance)
        => ObjectDisposedException.ThrowIf(disposed, instance);

    /// <summary>Checks that this process can run <paramref name="isa"/>.</summary>
    public static void IsaSupported(KernelIsa isa, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(isa))] string? name = null)
    {
        if (!KernelIsaSupport.IsSupported(isa))
        {
            throw new NotSupportedException(
                $"The {isa} kernel path cannot run in this process; supported: {string.Join(", ", KernelIsaSupport.Supported)}.");
        }
    }

    /// <summary>Checks a degree of parallelism: at least 1.</summary>
    public static void Parallelism(int value, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (value < 1)
        {
            throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be at least 1; it was {value}.");
        }
    }
}
