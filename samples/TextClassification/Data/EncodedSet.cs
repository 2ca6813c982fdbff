using AttnGen;

namespace TextClassification.Data;

/// <summary>Sequences ready for the model: ids <c>[Count, SeqLen]</c>, valid lengths and labels (0 ham, 1 spam).</summary>
internal sealed class EncodedSet
{
    public EncodedSet(int count, int seqLen)
    {
        (Count, SeqLen) = (count, seqLen);
        Ids = new int[count * seqLen];
        ValidLengths = new int[count];
        Labels = new int[count];
    }

    public int Count { get; }

    public int SeqLen { get; }

    public int[] Ids { get; }

    public int[] ValidLengths { get; }

    public int[] Labels { get; }

    public int SpamCount => Labels.Count(l => l == 1);

    public static EncodedSet Encode(IReadOnlyList<IReadOnlyList<string>> documents, IReadOnlyList<bool> isSpam, Vocabulary vocabulary, int seqLen)
    {
        var set = new EncodedSet(documents.Count, seqLen);
        for (int i = 0; i < documents.Count; i++)
        {
            set.ValidLengths[i] = vocabulary.Encode(documents[i], set.Ids.AsSpan(i * seqLen, seqLen));
            set.Labels[i] = isSpam[i] ? 1 : 0;
        }
        return set;
    }

    /// <summary>
    /// A stratified split: within each class, a seeded shuffle, then the first <paramref name="trainFraction"/>
    /// go to training. Returns index lists into <paramref name="isSpam"/>, each sorted.
    /// </summary>
    public static (int[] Train, int[] Test) StratifiedSplit(IReadOnlyList<bool> isSpam, double trainFraction, ulong seed)
    {
        var random = new SeededRandom(seed);
        var train = new List<int>();
        var test = new List<int>();
        foreach (bool spam in (bool[])[false, true])
        {
            int[] members = Enumerable.Range(0, isSpam.Count).Where(i => isSpam[i] == spam).ToArray();
            random.Shuffle<int>(members);
            int cut = (int)Math.Round(members.Length * trainFraction);
            train.AddRange(members[..cut]);
            test.AddRange(members[cut..]);
        }
        train.Sort();
        test.Sort();
        return ([.. train], [.. test]);
    }
}
