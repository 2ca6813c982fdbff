namespace TextClassification.Data;

/// <summary>
/// Word to id: 0 is <c>&lt;pad&gt;</c>, 1 is <c>&lt;unk&gt;</c> (any word not kept), then the most frequent
/// words of the training split, most frequent first (ties in ordinal order).
/// </summary>
internal sealed class Vocabulary
{
    public const int Padding = 0;
    public const int Unknown = 1;

    private readonly Dictionary<string, int> _ids;

    private Vocabulary(List<string> words)
    {
        Words = words;
        _ids = new Dictionary<string, int>(words.Count, StringComparer.Ordinal);
        for (int i = 0; i < words.Count; i++)
        {
            _ids[words[i]] = i;
        }
    }

    /// <summary>Every entry by id, the two special tokens first.</summary>
    public IReadOnlyList<string> Words { get; }

    public int Count => Words.Count;

    /// <summary>Keeps the <paramref name="size"/> - 2 most frequent words of <paramref name="documents"/>.</summary>
    public static Vocabulary Build(IEnumerable<IReadOnlyList<string>> documents, int size)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (IReadOnlyList<string> document in documents)
        {
            foreach (string word in document)
            {
                counts[word] = counts.GetValueOrDefault(word) + 1;
            }
        }
        List<string> words = ["<pad>", "<unk>"];
        words.AddRange(counts
            .OrderByDescending(pair => pair.Value)
            .ThenBy(pair => pair.Key, StringComparer.Ordinal)
            .Take(size - 2)
            .Select(pair => pair.Key));
        return new Vocabulary(words);
    }

    public int IdOf(string word) => _ids.TryGetValue(word, out int id) ? id : Unknown;

    /// <summary>Writes the ids of <paramref name="words"/> into <paramref name="ids"/>, pads the rest; returns the valid length.</summary>
    public int Encode(IReadOnlyList<string> words, Span<int> ids)
    {
        int valid = Math.Min(words.Count, ids.Length);
        for (int i = 0; i < valid; i++)
        {
            ids[i] = IdOf(words[i]);
        }
        ids[valid..].Fill(Padding);
        return valid;
    }

    /// <summary>One word per line, in id order.</summary>
    public void Save(string path) => File.WriteAllLines(path, Words);
}
