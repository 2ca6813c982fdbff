using Microsoft.CodeAnalysis.Text;

namespace AttnGen.Generator.Tests;

/// <summary>
/// Source text with one span marked as <c>[|...|]</c>: the place a diagnostic is expected to point at.
/// </summary>
public sealed record Markup(string Source, TextSpan Span)
{
    private const string Open = "[|";
    private const string Close = "|]";

    public static Markup Parse(string markup)
    {
        int start = markup.IndexOf(Open, StringComparison.Ordinal);
        int end = markup.IndexOf(Close, StringComparison.Ordinal);
        if (start < 0 || end < start || markup.IndexOf(Open, start + 1, StringComparison.Ordinal) >= 0)
        {
            throw new ArgumentException("Mark exactly one span with [| and |].", nameof(markup));
        }
        string source = markup.Remove(end, Close.Length).Remove(start, Open.Length);
        return new Markup(source, TextSpan.FromBounds(start, end - Open.Length));
    }

    /// <summary>The marked text.</summary>
    public string Marked => Source.Substring(Span.Start, Span.Length);
}
