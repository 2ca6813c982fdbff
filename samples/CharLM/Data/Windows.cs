namespace CharLM.Data;

/// <summary>
/// Windows of a character-id sequence for next-character prediction: inputs <c>ids[o .. o+SeqLen)</c>, targets
/// <c>ids[o+1 .. o+SeqLen]</c>, laid out <c>[count, SeqLen]</c>.
/// </summary>
internal static class Windows
{
    /// <summary>Fills <paramref name="inputs"/> and <paramref name="targets"/> with windows at random offsets.</summary>
    public static void Sample(ReadOnlySpan<int> ids, int seqLen, ref AttnGen.SeededRandom random, Span<int> inputs, Span<int> targets)
    {
        int count = inputs.Length / seqLen;
        for (int w = 0; w < count; w++)
        {
            Copy(ids, random.NextInt(ids.Length - seqLen), seqLen, inputs.Slice(w * seqLen, seqLen), targets.Slice(w * seqLen, seqLen));
        }
    }

    /// <summary>
    /// <paramref name="count"/> windows spread evenly over <paramref name="ids"/> (the same ones every run):
    /// the held-out evaluation set.
    /// </summary>
    public static (int[] Inputs, int[] Targets) Spread(ReadOnlySpan<int> ids, int seqLen, int count)
    {
        if (ids.Length < seqLen + 1 || count < 1)
        {
            throw new ArgumentException($"'ids' has {ids.Length} ids for {count} windows; expected at least {seqLen + 1} ids and 1 window.", nameof(ids));
        }
        var inputs = new int[count * seqLen];
        var targets = new int[count * seqLen];
        long span = ids.Length - seqLen - 1;
        for (int w = 0; w < count; w++)
        {
            Copy(ids, (int)(span * w / Math.Max(1, count - 1)), seqLen, inputs.AsSpan(w * seqLen, seqLen), targets.AsSpan(w * seqLen, seqLen));
        }
        return (inputs, targets);
    }

    private static void Copy(ReadOnlySpan<int> ids, int offset, int seqLen, Span<int> input, Span<int> target)
    {
        ids.Slice(offset, seqLen).CopyTo(input);
        ids.Slice(offset + 1, seqLen).CopyTo(target);
    }
}
