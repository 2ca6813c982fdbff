namespace CharLM.Model;

/// <summary>
/// One training batch of <see cref="Count"/> windows: input ids <c>[Count, SeqLen]</c> and the next character
/// of each position as the target, <c>[Count, SeqLen]</c>.
/// </summary>
internal readonly record struct TextBatch(ReadOnlyMemory<int> Ids, ReadOnlyMemory<int> Targets, int Count)
{
    /// <summary>Windows <paramref name="start"/> .. <paramref name="start"/> + <paramref name="count"/> - 1 of this batch.</summary>
    public TextBatch Slice(int start, int count, int seqLen)
        => new(Ids.Slice(start * seqLen, count * seqLen), Targets.Slice(start * seqLen, count * seqLen), count);
}
