namespace CharLM.Generation;

/// <summary>
/// The characters a sequence is conditioned on: at most <c>capacity</c> (the model's SeqLen) at positions
/// 0.. . When it is full, the next append first keeps only the newest half (positions restart at 0), so a
/// recomputing generator and a cached one (which re-fills its cache then) see the same context.
/// </summary>
internal sealed class ContextWindow(int capacity)
{
    private readonly int[] _ids = new int[capacity];

    public int Length { get; private set; }

    public int Capacity => capacity;

    public ReadOnlySpan<int> Ids => _ids.AsSpan(0, Length);

    /// <summary>Whether the next <see cref="Append"/> slides the window (drops the oldest half).</summary>
    public bool IsFull => Length == capacity;

    public void Append(int id)
    {
        if (IsFull)
        {
            int keep = capacity / 2;
            _ids.AsSpan(capacity - keep, keep).CopyTo(_ids);
            Length = keep;
        }
        _ids[Length++] = id;
    }
}
