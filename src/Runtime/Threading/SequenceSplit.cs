using System.ComponentModel;

namespace AttnGen;

/// <summary>
/// One worker's share of one sequence: part <see cref="Part"/> of <see cref="Parts"/>. A generated
/// <c>ForwardSequence</c> runs on every worker of the sequence with the same arguments but its own part; each phase
/// (projection panels, rotary rows, attention heads and query tiles) covers its units
/// <see cref="Start"/> .. <see cref="End"/> − 1, and <see cref="Sync"/> separates the phases. Every unit is computed
/// by the same arithmetic whatever the split, so the result is bit-identical to one worker. <see cref="Whole"/> is
/// the one-worker split: every range is all units and <see cref="Sync"/> does nothing.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct SequenceSplit
{
    private readonly PhaseBarrier? _barrier;
    // Parts − 1, so that default(SequenceSplit) is the one-worker split.
    private readonly int _others;

    internal SequenceSplit(int part, int parts, PhaseBarrier? barrier)
    {
        if (parts < 1 || (uint)part >= (uint)parts)
        {
            throw new ArgumentOutOfRangeException(nameof(part), part, $"'{nameof(part)}' is {part}; expected 0..{parts - 1} of {parts} parts (at least one).");
        }
        if (parts > 1 && barrier is null)
        {
            throw new ArgumentNullException(nameof(barrier), $"'{nameof(barrier)}' is null; {parts} parts need one to meet between phases.");
        }
        Part = part;
        _others = parts - 1;
        _barrier = parts > 1 ? barrier : null;
    }

    /// <summary>
    /// Most workers that share one sequence: the processor count. They meet between phases, so they must all run at
    /// once; tests raise it to exercise uneven splits on a small machine.
    /// </summary>
    internal static int MaxSharingWorkers { get; set; } = Environment.ProcessorCount;

    /// <summary>The whole sequence on one worker.</summary>
    public static SequenceSplit Whole => default;

    /// <summary>This worker's part, 0 .. <see cref="Parts"/> − 1.</summary>
    public int Part { get; }

    /// <summary>How many workers share the sequence (at least 1; <c>default</c> reads as 1).</summary>
    public int Parts => _others + 1;

    /// <summary>Whether this is the last part (the one that takes a remainder after equal shares).</summary>
    public bool IsLast => Part == Parts - 1;

    /// <summary>The first of this part's units when <paramref name="units"/> are shared out in contiguous, near-equal ranges.</summary>
    public int Start(int units) => (int)((long)units * Part / Parts);

    /// <summary>One past the last of this part's units (see <see cref="Start"/>).</summary>
    public int End(int units) => (int)((long)units * (Part + 1) / Parts);

    /// <summary>Waits until every part has finished the current phase; nothing to do for one part.</summary>
    public void Sync() => _barrier?.SignalAndWait();
}
