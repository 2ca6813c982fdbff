using System.Text;
using AttnGen.Samples;

namespace TextClassification.Data;

/// <summary>One email of the corpus: its group folder, file name, raw text and label.</summary>
internal sealed record Email(string Group, string Name, string Text)
{
    public bool IsSpam => Group.StartsWith("spam", StringComparison.Ordinal);
}

/// <summary>Reads the emails out of the npm tarball: <c>package/data/&lt;group&gt;/&lt;id&gt;.&lt;md5&gt;.txt</c> (the JSON twins hold the same text).</summary>
internal static class SpamCorpus
{
    public static readonly string[] Groups = ["easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"];
    public const int ExpectedCount = 6046;

    public static List<Email> Read(string tarball)
    {
        // data/<group>/<name>.txt in path order; 8-bit mail, so Latin-1: every byte one char.
        var emails = new List<Email>(ExpectedCount);
        foreach ((string path, string text) in NpmTarball.ReadFiles(tarball, IsEmail, Encoding.Latin1))
        {
            string[] parts = path.Split('/');
            emails.Add(new Email(parts[1], parts[2], text));
        }
        if (emails.Count != ExpectedCount)
        {
            throw new CorpusUnavailableException($"{tarball} holds {emails.Count} emails; expected {ExpectedCount}.");
        }
        return emails;
    }

    private static bool IsEmail(string path)
    {
        string[] parts = path.Split('/');
        return parts.Length == 3 && parts[0] == "data" && parts[2].EndsWith(".txt", StringComparison.Ordinal) && Array.IndexOf(Groups, parts[1]) >= 0;
    }
}
