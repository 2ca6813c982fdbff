namespace TextClassification.Data;

/// <summary>
/// Splits a raw email into word tokens:
/// <list type="number">
/// <item>The header block (up to the first empty line) is dropped except the <c>Subject:</c> header
/// (with its continuation lines); the subject's words come first, then the body's.</item>
/// <item>A word is a maximal run of ASCII letters and digits, lower-cased. Everything else separates
/// words, so HTML tags and quoted-printable escapes become words of their own (<c>font</c>, <c>3d</c>).</item>
/// <item>Runs longer than <see cref="MaxWordLength"/> characters (base64 blocks, hashes) are skipped.</item>
/// </list>
/// No decoding of MIME parts: the scheme is meant to be simple and easy to reproduce.
/// </summary>
internal static class EmailTokenizer
{
    public const int MaxWordLength = 24;

    /// <summary>The first <paramref name="limit"/> words of <paramref name="email"/>.</summary>
    public static List<string> Tokenize(string email, int limit)
    {
        var words = new List<string>(Math.Min(limit, 256));
        (string subject, int bodyStart) = SplitHeader(email);
        AddWords(subject, words, limit);
        AddWords(email.AsSpan(bodyStart), words, limit);
        return words;
    }

    /// <summary>The Subject header's value and where the body starts.</summary>
    private static (string Subject, int BodyStart) SplitHeader(string email)
    {
        string subject = "";
        int position = 0;
        bool inSubject = false;
        while (position < email.Length)
        {
            int end = email.IndexOf('\n', position);
            int next = end < 0 ? email.Length : end + 1;
            ReadOnlySpan<char> line = email.AsSpan(position, (end < 0 ? email.Length : end) - position).TrimEnd('\r');
            position = next;
            if (line.IsEmpty)
            {
                break; // end of the header block
            }
            bool continuation = line[0] is ' ' or '\t';
            if (continuation && inSubject)
            {
                subject += " " + line.ToString();
                continue;
            }
            inSubject = line.StartsWith("Subject:", StringComparison.OrdinalIgnoreCase);
            if (inSubject)
            {
                subject = line["Subject:".Length..].ToString();
            }
        }
        return (subject, position);
    }

    private static void AddWords(ReadOnlySpan<char> text, List<string> words, int limit)
    {
        int i = 0;
        while (i < text.Length && words.Count < limit)
        {
            if (!char.IsAsciiLetterOrDigit(text[i]))
            {
                i++;
                continue;
            }
            int start = i;
            while (i < text.Length && char.IsAsciiLetterOrDigit(text[i]))
            {
                i++;
            }
            if (i - start <= MaxWordLength)
            {
                words.Add(text[start..i].ToString().ToLowerInvariant());
            }
        }
    }
}
