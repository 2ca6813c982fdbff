using System.Diagnostics.CodeAnalysis;

namespace AttnGen;

/// <summary>
/// Detects a call on a layer instance while another call on it is still running. A layer owns its scratch
/// memory and per-call state, so it runs one call at a time: <see cref="Enter"/> takes the gate with one atomic
/// compare-exchange and throws <see cref="InvalidOperationException"/> when it is taken; disposing the returned
/// scope releases it. Nothing waits or spins, so an uncontended call pays for one interlocked instruction.
/// </summary>
/// <example>
/// <code>
/// private CallGate _gate;
/// public void Forward(...) { using var gate = _gate.Enter(this, "Forward"); ... }
/// </code>
/// </example>
internal struct CallGate
{
    // The running call's name, or null when none runs.
    private string? _running;

    /// <summary>The call now running, or <see langword="null"/>.</summary>
    public string? Running => Volatile.Read(ref _running);

    /// <summary>Marks <paramref name="operation"/> of <paramref name="owner"/> as running until the scope is disposed.</summary>
    /// <param name="owner">The instance the gate belongs to, named in the error.</param>
    /// <param name="operation">The method being entered, e.g. <c>Forward</c>.</param>
    /// <exception cref="InvalidOperationException">Another call on the same instance is running.</exception>
    [UnscopedRef]
    public Scope Enter(object owner, string operation)
    {
        string? running = Interlocked.CompareExchange(ref _running, operation, null);
        if (running is not null)
        {
            ThrowBusy(owner, operation, running);
        }
        return new Scope(ref _running);
    }

    [DoesNotReturn]
    private static void ThrowBusy(object owner, string operation, string running)
        => throw new InvalidOperationException(
            $"{operation} was called on a {owner.GetType().Name} instance while {running} is still running on it. " +
            "A layer instance runs one call at a time (it owns its scratch memory): use one instance per thread, " +
            "or pass the sequences of all threads as one batch.");

    /// <summary>Releases the gate when disposed.</summary>
    public readonly ref struct Scope
    {
        private readonly ref string? _running;

        internal Scope(ref string? running) => _running = ref running;

        /// <summary>Marks the call as finished.</summary>
        public void Dispose() => Volatile.Write(ref _running, null);
    }
}
