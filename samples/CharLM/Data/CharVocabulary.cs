namespace CharLM.Data;

/// <summary>
/// The characters of a training text, one id each: id 0 stands for any character the text lacks, ids 1..
/// are the characters seen, in ordinal order.
/// </summary>
internal sealed class CharVocabulary
{
    public const int Unknown = 0;

    private readonly Dictionary<char, int> _ids;
    private readonly char[] _chars;

    private CharVocabulary(char[] chars)
    {
        _chars = chars;
        _ids = new Dictionary<char, int>(chars.Length);
        for (int i = 1; i < chars.Length; i++)
        {
            _ids[chars[i]] = i;
        }
    }

    /// <summary>Number of ids, the unknown one included.</summary>
    public int Count => _chars.Length;

    /// <summary>Every distinct character of <paramref name="text"/>.</summary>
    public static CharVocabulary Build(string text)
    {
        var seen = new SortedSet<char>(text);
        return new CharVocabulary(['\uFFFD', .. seen]);
    }

    /// <summary>The ids of <paramref name="text"/>, unknown characters as <see cref="Unknown"/>.</summary>
    public int[] Encode(string text)
    {
        var ids = new int[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            ids[i] = _ids.GetValueOrDefault(text[i], Unknown);
        }
        return ids;
    }

    /// <summary>The character of <paramref name="id"/> (U+FFFD for <see cref="Unknown"/>).</summary>
    public char Decode(int id) => _chars[id];

    /// <summary>The text of <paramref name="ids"/>.</summary>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var chars = new char[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            chars[i] = _chars[ids[i]];
        }
        return new string(chars);
    }
}
