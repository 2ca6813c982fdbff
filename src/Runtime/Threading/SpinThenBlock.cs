namespace AttnGen;

/// <summary>
/// A condition one thread waits for and another makes true, for the short waits of the workers of one call: the
/// waiter spins a little (the workers' shares are alike, so they usually finish close together), then blocks on a
/// lock object made up front. Nothing is allocated per wait (ManualResetEventSlim makes its lock on the first wait
/// that blocks; System.Threading.Barrier allocates per phase).
/// </summary>
/// <remarks>
/// The signalling side makes the condition true (a volatile write) and then calls <see cref="WakeAll"/>. A waiter
/// tests the condition under the lock and releases the lock only inside <see cref="Monitor.Wait(object)"/>, so a
/// wake-up cannot fall between its test and its wait.
/// </remarks>
internal sealed class SpinThenBlock
{
    // How often a waiter spins (yielding, never sleeping) before it blocks.
    private const int SpinsBeforeBlocking = 35;

    private readonly object _gate = new();

    /// <summary>Returns once <paramref name="condition"/> holds.</summary>
    /// <typeparam name="TCondition">A struct, so the test is inlined and nothing is boxed.</typeparam>
    public void WaitUntil<TCondition>(TCondition condition)
        where TCondition : struct, ICondition
    {
        var spinner = default(SpinWait);
        while (!condition.IsMet && spinner.Count < SpinsBeforeBlocking)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }
        Block(condition);
    }

    /// <summary>
    /// Returns once <paramref name="condition"/> holds, spinning on the core (never yielding) for up to
    /// <paramref name="spinTicks"/> <see cref="System.Diagnostics.Stopwatch"/> ticks before it blocks: for a waiter that
    /// keeps a core of its own between short gaps, such as an idle <see cref="WorkerTeam"/> thread.
    /// </summary>
    public void WaitUntil<TCondition>(TCondition condition, long spinTicks)
        where TCondition : struct, ICondition
    {
        long spinUntil = System.Diagnostics.Stopwatch.GetTimestamp() + spinTicks;
        while (!condition.IsMet && System.Diagnostics.Stopwatch.GetTimestamp() < spinUntil)
        {
            Thread.SpinWait(20);
        }
        Block(condition);
    }

    // Tests the condition under the lock and waits there until it holds.
    private void Block<TCondition>(TCondition condition)
        where TCondition : struct, ICondition
    {
        if (condition.IsMet)
        {
            return;
        }
        lock (_gate)
        {
            while (!condition.IsMet)
            {
                Monitor.Wait(_gate);
            }
        }
    }

    /// <summary>Wakes every blocked waiter to test its condition again; call it after making a condition true.</summary>
    public void WakeAll()
    {
        lock (_gate)
        {
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>What a waiter waits for; read with volatile semantics by the implementation.</summary>
    public interface ICondition
    {
        /// <summary>Whether the wait is over.</summary>
        bool IsMet { get; }
    }
}
