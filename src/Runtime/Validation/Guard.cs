using System.Diagnostics.CodeAnalysis;

namespace AttnGen;

/// <summary>
/// Argument checks used by generated layers. Every failure is an <see cref="ArgumentException"/> (or
/// <see cref="ArgumentOutOfRangeException"/>) that names the argument, the expected and the actual value.
/// They run before a layer writes anything, so a rejected call leaves its outputs untouched.
/// </summary>
public static class Guard
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
