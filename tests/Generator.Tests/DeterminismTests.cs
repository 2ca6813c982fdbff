using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;

namespace AttnGen.Generator.Tests;

/// <summary>Same input, same bytes: across runs, and whatever culture the compiler runs under.</summary>
public partial class DeterminismTests
{
    [Theory]
    [MemberData(nameof(Layers.Names), MemberType = typeof(Layers))]
    public void GeneratingTwiceGivesTheSameBytes(string layer)
    {
        string source = Layers.Get(layer);

        byte[][] first = Bytes(GeneratorHarness.Generate(source));
        byte[][] second = Bytes(GeneratorHarness.Generate(source));

        Assert.Equal(first, second);
    }

    [Theory]
    [MemberData(nameof(Layers.Names), MemberType = typeof(Layers))]
    public void GermanCultureGivesTheSameBytesAsInvariant(string layer)
    {
        string source = Layers.Get(layer);

        byte[][] invariant = Bytes(InCulture(CultureInfo.InvariantCulture, () => GeneratorHarness.Generate(source)));
        byte[][] german = Bytes(InCulture(new CultureInfo("de-DE"), () =>
        {
            // The project turns invariant globalization off; without ICU this would still print "0.5".
            Assert.Equal("0,5", 0.5.ToString(CultureInfo.CurrentCulture));
            return GeneratorHarness.Generate(source);
        }));

        Assert.Equal(invariant, german);
    }

    [Fact]
    public void FloatLiteralsUseAPointUnderGermanCulture()
    {
        GeneratorRun run = InCulture(new CultureInfo("de-DE"), () => GeneratorHarness.Generate(Layers.ScaledCausalCross + "\n" + """
            /// <summary>Default scale 1/sqrt(3), a long literal.</summary>
            [AttentionLayer(2, 3, 5)]
            public partial class OddWidth;
            """));

        string code = string.Concat(run.Files.Select(f => f.Text));
        Assert.Contains("public const float ScoreScale = 0.3f;", code, StringComparison.Ordinal);
        Assert.Contains("public const float ScoreScale = 0.57735026f;", code, StringComparison.Ordinal);
        Assert.DoesNotMatch(CommaDecimal(), code);
    }

    [Fact]
    public void DiagnosticMessagesDoNotFollowTheCulture()
    {
        GeneratorRun run = InCulture(new CultureInfo("de-DE"), () => GeneratorHarness.Run(
            "using AttnGen; [AttentionLayer(2, 4, 3, Scoring = AttentionScoring.DotProduct, Scale = 0.5)] public partial class Layer;"));

        Diagnostic d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Contains("Scale = 0.5 ", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    /// <summary>A digit, a comma and a digit followed by an f suffix: a float literal written the German way.</summary>
    [GeneratedRegex(@"\b\d+,\d+f\b")]
    private static partial Regex CommaDecimal();

    private static byte[][] Bytes(GeneratorRun run)
        => run.Result.GeneratedSources
            .Select(s => Encoding.UTF8.GetBytes(s.SourceText.ToString()))
            .ToArray();

    private static T InCulture<T>(CultureInfo culture, Func<T> action)
    {
        CultureInfo culture0 = CultureInfo.CurrentCulture;
        CultureInfo uiCulture0 = CultureInfo.CurrentUICulture;
        try
        {
            CultureInfo.CurrentCulture = culture;
            CultureInfo.CurrentUICulture = culture;
            return action();
        }
        finally
        {
            CultureInfo.CurrentCulture = culture0;
            CultureInfo.CurrentUICulture = uiCulture0;
        }
    }
}
