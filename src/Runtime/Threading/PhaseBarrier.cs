namespace AttnGen;

/// <summary>
/// The meeting point of the workers that share one sequence: each phase's results are complete once every
/// participant has called <see cref="SignalAndWait"/>. The last to arrive opens the next phase; the others spin
/// briefly (the parts of a phase are the same size, so they usually arrive close together), then block on a lock
/// object made up front, so a call allocates nothing (System.Threading.Barrier allocates and costs far more).
/// A participant that fails calls <see cref="Break"/>: every waiter, now and later, leaves with
/// <see cref="BrokenException"/> instead of waiting for work that will never come.
/// </summary>
internal sealed class PhaseBarrier
{
    // Waiters spin, then block on a lock made up front, until the phase ends or the barrier breaks.
    private readonly SpinThenBlock _phaseEnd = new();
    private int _participants;
    private int _remaining;
    private int _phase;
    private bool _broken;

    /// <summary>Starts over with <paramref name="participants"/> workers: phase 0, not broken.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="participants"/> is below 1.</exception>
    public void Reset(int participants)
    {
        if (participants < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(participants), participants, $"'{nameof(participants)}' is {participants}; expected at least 1.");
        }
        _participants = participants;
        _remaining = participants;
        Volatile.Write(ref _broken, false);
        Volatile.Write(ref _phase, 0);
    }

    /// <summary>Phases completed since the last <see cref="Reset"/>.</summary>
    public int Phase => Volatile.Read(ref _phase);

    /// <summary>Whether a participant called <see cref="Break"/> since the last <see cref="Reset"/>.</summary>
    public bool IsBroken => Volatile.Read(ref _broken);

    /// <summary>Arrives at the end of the current phase and returns once every participant has arrived.</summary>
    /// <exception cref="BrokenException">A participant broke the barrier (it failed): its work will not arrive.</exception>
    public void SignalAndWait()
    {
        int phase = Volatile.Read(ref _phase);
        if (Volatile.Read(ref _broken))
        {
            throw new BrokenException();
        }
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            // The others cannot arrive at the next phase before they see this one end, so the count is reset first.
            _remaining = _participants;
            Volatile.Write(ref _phase, phase + 1);
            _phaseEnd.WakeAll();
            return;
        }
        _phaseEnd.WaitUntil(new PhaseEnded(this, phase));
        // A phase that ended before the break counts: only a waiter still in it leaves by the exception.
        if (Volatile.Read(ref _phase) == phase)
        {
            throw new BrokenException();
        }
    }

    /// <summary>Releases every waiter with <see cref="BrokenException"/>; called by a participant that failed.</summary>
    public void Break()
    {
        Volatile.Write(ref _broken, true);
        _phaseEnd.WakeAll();
    }

    private readonly struct PhaseEnded(PhaseBarrier barrier, int phase) : SpinThenBlock.ICondition
    {
        public bool IsMet => Volatile.Read(ref barrier._phase) != phase || Volatile.Read(ref barrier._broken);
    }

    /// <summary>Thrown to a waiter when another participant failed; the batch driver reports that failure instead.</summary>
    public sealed class BrokenException() : Exception("Another worker on the same sequence failed.");
}
