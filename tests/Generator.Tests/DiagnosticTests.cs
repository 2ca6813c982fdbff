using System.Collections.Immutable;
using System.Globalization;
using AttnGen.Generator.Diagnostics;
using AttnGen.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace AttnGen.Generator.Tests;

/// <summary>
/// Every diagnostic the generator reports: id, severity, message and the token it points at, and that an
/// invalid layer gets no generated source (so the user sees the diagnostic, not errors in generated code).
/// </summary>
public class DiagnosticTests
{
    [Theory]
    [MemberData(nameof(Layers.Names), MemberType = typeof(Layers))]
    public void ValidDeclarationsReportNothing(string layer)
    {
        GeneratorRun run = GeneratorHarness.Generate(Layers.Get(layer));

        Assert.Empty(run.GeneratorDiagnostics);
        Assert.NotEmpty(run.Files);
    }

    [Fact]
    public void NotPartial_ATTN0001()
        => AssertReports(
            "[AttentionLayer(2, 4, 3)] public class [|Layer|];",
            "ATTN0001", DiagnosticSeverity.Error, "'Layer' has [AttentionLayer] but is not declared 'partial'");

    [Fact]
    public void ContainerNotPartial_ATTN0002()
        => AssertReports(
            "public class [|Outer|] { [AttentionLayer(2, 4, 3)] public partial class Inner; }",
            "ATTN0002", DiagnosticSeverity.Error, "'Inner' is nested in 'Outer', which is not partial; add 'partial' to every declaration of 'Outer'");

    [Fact]
    public void ContainerNotPartial_ATTN0002_NamesTheOutermostOffender()
        => AssertReports(
            "public partial class A { public class [|B|] { public partial class C { [AttentionLayer(2, 4, 3)] public partial class Inner; } } }",
            "ATTN0002", DiagnosticSeverity.Error, "'Inner' is nested in 'A.B', which is not partial");

    [Theory]
    [InlineData("public class Base { } [AttentionLayer(2, 4, 3)] public partial class Layer : [|Base|];", "Base")]
    [InlineData("namespace N { public class Base { } } [AttentionLayer(2, 4, 3)] public partial class Layer : [|N.Base|], System.IComparable { public int CompareTo(object? o) => 0; }", "N.Base")]
    [InlineData("public class Base<T> { } public partial class Layer : [|Base<int>|]; [AttentionLayer(2, 4, 3)] public partial class Layer;", "Base<int>")]
    public void BaseClass_ATTN0020(string source, string baseName)
        => AssertReports(source, "ATTN0020", DiagnosticSeverity.Error, $"'Layer' derives from '{baseName}'");

    [Fact]
    public void InterfacesOnTheLayerAreFine()
    {
        GeneratorRun run = GeneratorHarness.Generate("using AttnGen; [AttentionLayer(2, 4, 3)] public partial class Layer : System.IComparable { public int CompareTo(object? o) => 0; }");

        Assert.Empty(run.GeneratorDiagnostics);
        Assert.NotEmpty(run.Files);
    }

    [Theory]
    [InlineData("[AttentionLayer(2, 5, 8, Causal = true, [|Rotary = true|])]", "headDim = 5 is odd")]
    [InlineData("[AttentionLayer(2, 4, 8, KvSeqLen = 6, [|Rotary = true|])]", "KvSeqLen = 6 differs from seqLen = 8")]
    [InlineData("[AttentionLayer(2, 4, 8, Projections = false, Bias = false, [|Rotary = true|])]", "needs the q/k/v projections")]
    [InlineData("[AttentionLayer(2, 4, 8, Scoring = AttentionScoring.Additive, [|Rotary = true|])]", "Additive scoring")]
    [InlineData("[AttentionLayer(2, 4, 8, [|RotaryBase = 500|])]", "RotaryBase is set but Rotary is not")]
    [InlineData("[AttentionLayer(2, 4, 8, Rotary = true, [|RotaryBase = 1|])]", "RotaryBase = 1 must be a finite number above 1")]
    public void Rotary_ATTN0022(string attribute, string fragment)
        => AssertReports(attribute + " public partial class Layer;", "ATTN0022", DiagnosticSeverity.Error, fragment);

    [Theory]
    [InlineData("[AttentionLayer(2, 4, 8, [|KvCache = true|])]", "needs Causal = true")]
    [InlineData("[AttentionLayer(2, 4, 8, Causal = true, KvSeqLen = 9, [|KvCache = true|])]", "KvSeqLen = 9 differs from seqLen = 8")]
    [InlineData("[AttentionLayer(2, 4, 8, Causal = true, Projections = false, Bias = false, [|KvCache = true|])]", "needs the q/k/v projections")]
    public void KvCache_ATTN0023(string attribute, string fragment)
        => AssertReports(attribute + " public partial class Layer;", "ATTN0023", DiagnosticSeverity.Error, fragment);

    [Fact]
    public void Generic_ATTN0003()
        => AssertReports(
            "[AttentionLayer(2, 4, 3)] public partial class [|Layer|]<T>;",
            "ATTN0003", DiagnosticSeverity.Error, "'Layer' is generic");

    [Fact]
    public void NonPositive_ATTN0004()
        => AssertReports(
            "[AttentionLayer(2, [|0|], 3)] public partial class Layer;",
            "ATTN0004", DiagnosticSeverity.Error, "headDim is 0; it must be at least 1");

    [Theory]
    [InlineData("[AttentionLayer([|heads: -1|], headDim: 4, seqLen: 3)]", "heads is -1")]
    [InlineData("[AttentionLayer(seqLen: 3, [|headDim: 0|], heads: 2)]", "headDim is 0")]
    [InlineData("[AttentionLayer(2, 4, [|0|])]", "seqLen is 0")]
    [InlineData("[AttentionLayer(2, 4, 3, [|KvHeads = 0|])]", "KvHeads is 0")]
    [InlineData("[AttentionLayer(2, 4, 3, Causal = true, [|KvSeqLen = -5|])]", "KvSeqLen is -5")]
    [InlineData("[AttentionLayer(2, 4, 3, [|ModelDim = 0|])]", "ModelDim is 0")]
    public void NonPositive_ATTN0004_PointsAtTheArgument(string attribute, string fragment)
        => AssertReports(attribute + " public partial class Layer;", "ATTN0004", DiagnosticSeverity.Error, fragment);

    [Fact]
    public void HeadsNotDivisible_ATTN0005()
        => AssertReports(
            "[AttentionLayer(6, 4, 3, [|KvHeads = 4|])] public partial class Layer;",
            "ATTN0005", DiagnosticSeverity.Error, "heads = 6 is not a multiple of KvHeads = 4; each key/value head must serve the same number of query heads (for example KvHeads = 3)");

    [Fact]
    public void ModelDimMismatch_ATTN0006()
        => AssertReports(
            "[AttentionLayer(2, 4, 3, Projections = false, [|ModelDim = 10|])] public partial class Layer;",
            "ATTN0006", DiagnosticSeverity.Error, "ModelDim = 10 but heads * headDim = 8");

    [Fact]
    public void ScaleNotApplicable_ATTN0007()
        => AssertReports(
            "[AttentionLayer(2, 4, 3, Scoring = AttentionScoring.Additive, [|Scale = 0.5|])] public partial class Layer;",
            "ATTN0007", DiagnosticSeverity.Error, "Scale = 0.5 cannot be used with Scoring = Additive");

    [Theory]
    [InlineData("Scoring = AttentionScoring.DotProduct, [|Scale = 2|]", "Scale = 2 cannot be used with Scoring = DotProduct")]
    [InlineData("[|Scale = -0.25|]", "Scale = -0.25 cannot be used with Scoring = ScaledDotProduct: the scale must be a finite positive number")]
    [InlineData("[|Scale = 0|]", "Scale = 0 cannot be used")]
    [InlineData("[|Scale = double.NaN|]", "Scale = NaN cannot be used")]
    [InlineData("[|Scale = 1e300|]", "representable as a float")]
    [InlineData("[|Scale = 1e-60|]", "representable as a float")]
    public void ScaleNotApplicable_ATTN0007_Variants(string arguments, string fragment)
        => AssertReports(
            $"[AttentionLayer(2, 4, 3, {arguments})] public partial class Layer;",
            "ATTN0007", DiagnosticSeverity.Error, fragment);

    [Fact]
    public void BiasWithoutProjections_ATTN0008()
        => AssertReports(
            "[AttentionLayer(2, 4, 3, Projections = false, [|Bias = true|])] public partial class Layer;",
            "ATTN0008", DiagnosticSeverity.Error, "Bias = true has no effect with Projections = false");

    [Fact]
    public void OverLimit_ATTN0009()
        => AssertReports(
            "[AttentionLayer([|257|], 4, 3)] public partial class Layer;",
            "ATTN0009", DiagnosticSeverity.Error, "heads is 257; the generator supports at most 256");

    [Theory]
    [InlineData("[AttentionLayer(2, [|headDim: 513|], 3)]", "headDim is 513; the generator supports at most 512")]
    [InlineData("[AttentionLayer(2, 4, [|16385|])]", "seqLen is 16385; the generator supports at most 16384")]
    [InlineData("[AttentionLayer(2, 4, 3, [|KvSeqLen = 20000|])]", "KvSeqLen is 20000; the generator supports at most 16384")]
    [InlineData("[AttentionLayer(256, 2, 3, [|KvHeads = 512|])]", "KvHeads is 512; the generator supports at most 256")]
    [InlineData("[AttentionLayer(2, 4, 3, [|ModelDim = 16385|])]", "ModelDim is 16385; the generator supports at most 16384")]
    // Limits of the whole shape point at the attribute.
    [InlineData("[[|AttentionLayer(64, 512, 3)|]]", "ModelDim (heads * headDim) is 32768; the generator supports at most 16384")]
    [InlineData("[[|AttentionLayer(128, 512, 16384, ModelDim = 16)|]]", "heads * headDim is 65536; the generator supports at most 16384")]
    [InlineData("[[|AttentionLayer(128, 128, 3)|]]", "The parameter count is 1073807360; the generator supports at most 268435456")]
    public void OverLimit_ATTN0009_Variants(string attribute, string fragment)
        => AssertReports(attribute + " public partial class Layer;", "ATTN0009", DiagnosticSeverity.Error, fragment);

    [Fact]
    public void StaticType_ATTN0010()
        => AssertReports(
            "[AttentionLayer(2, 4, 3)] public static partial class [|Layer|];",
            "ATTN0010", DiagnosticSeverity.Error, "'Layer' is static");

    [Fact]
    public void CausalRowsWithoutKeys_ATTN0011_IsAWarningAndTheLayerIsStillGenerated()
    {
        GeneratorRun run = AssertReports(
            "[AttentionLayer(4, 8, 16, KvSeqLen = 10, [|Causal = true|])] public partial class Layer;",
            "ATTN0011", DiagnosticSeverity.Warning,
            "With Causal = true and KvSeqLen = 10 < seqLen = 16, the first 6 query rows see no key",
            generatesSource: true);

        Assert.Contains(run.Files, f => f.HintName == "Layer.g.cs");
    }

    [Fact]
    public void UnsafeNotAllowed_ATTN0012_PointsAtTheAttribute()
    {
        Markup m = Markup.Parse("using AttnGen; namespace Demo; [[|AttentionLayer(2, 4, 3)|]] public partial class Layer;");

        GeneratorRun run = GeneratorHarness.Run(GeneratorHarness.CreateCompilation(m.Source, allowUnsafe: false));

        Diagnostic d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("ATTN0012", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal(
            "The kernels of 'Demo.Layer' use pointers; add <AllowUnsafeBlocks>true</AllowUnsafeBlocks> to the project file",
            d.GetMessage(CultureInfo.InvariantCulture));
        // In the source tree, at the attribute: an error with a file and line, not "CSC : error".
        Assert.True(d.Location.IsInSource);
        Assert.Equal(GeneratorHarness.SourcePath, d.Location.GetLineSpan().Path);
        Assert.Equal(m.Span, d.Location.SourceSpan);
        Assert.Empty(run.Files);
        GeneratorHarness.AssertNoErrors(run, except: "ATTN0012");
    }

    [Fact]
    public void UnsafeNotAllowed_ATTN0012_OncePerLayer()
    {
        GeneratorRun run = GeneratorHarness.Run(
            "using AttnGen; [AttentionLayer(2, 4, 3)] public partial class A; [AttentionLayer(2, 4, 3)] public partial class B;",
            allowUnsafe: false);

        Assert.Equal(new[] { "ATTN0012", "ATTN0012" }, run.GeneratorDiagnostics.Select(d => d.Id));
        Assert.Empty(run.Files);
    }

    [Fact]
    public void UnknownScoring_ATTN0013()
        => AssertReports(
            "[AttentionLayer(2, 4, 3, [|Scoring = (AttentionScoring)7|])] public partial class Layer;",
            "ATTN0013", DiagnosticSeverity.Error, "Scoring = 7 is not an AttentionScoring value");

    [Theory]
    [InlineData("public partial record [|Layer|];")]
    [InlineData("public partial record class [|Layer|];")]
    [InlineData("public sealed partial record [|Layer|](int Size);")]
    public void Record_ATTN0014(string declaration)
        => AssertReports(
            "[AttentionLayer(2, 4, 3)] " + declaration,
            "ATTN0014", DiagnosticSeverity.Error, "'Layer' is a record; declare the layer as a 'partial class'");

    [Fact]
    public void ReservedName_ATTN0015()
        => AssertReports(
            "[AttentionLayer(2, 4, 3)] public partial class [|Forward|];",
            "ATTN0015", DiagnosticSeverity.Error, "'Forward' is the name of a member the generator adds to the layer");

    [Fact]
    public void ReservedName_ATTN0015_DoubleUnderscore()
        => AssertReports(
            "[AttentionLayer(2, 4, 3)] public partial class [|My__Layer|];",
            "ATTN0015", DiagnosticSeverity.Error, "'My__Layer' contains '__'");

    /// <summary>
    /// ATTN0099 wraps an exception thrown while parsing or emitting. No declaration is known to reach it
    /// (the last one, a keyword-named namespace, is fixed and covered by <see cref="Layers.KeywordNames"/>),
    /// so this checks the diagnostic the generator would build, by the same path it uses.
    /// </summary>
    [Fact]
    public void InternalError_ATTN0099_NamesTheLayerAndTheException()
    {
        Compilation compilation = GeneratorHarness.CreateCompilation("class C { }");
        var info = DiagnosticInfo.Create(DiagnosticDescriptors.InternalError, null, "Demo.Layer", "InvalidOperationException: boom");

        Diagnostic d = info.ToDiagnostic(compilation);

        Assert.Equal("ATTN0099", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal(
            "The AttnGen generator failed on 'Demo.Layer': InvalidOperationException: boom. Please report this with the declaration that caused it.",
            d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void EveryDescriptorHasATest()
    {
        string[] ids = typeof(DiagnosticDescriptors)
            .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Select(f => ((DiagnosticDescriptor)f.GetValue(null)!).Id)
            .ToArray();
        string[] tested = typeof(DiagnosticTests).GetMethods().Concat(typeof(InstructionSetTests).GetMethods())
            .Select(m => m.Name.Split('_'))
            .Where(parts => parts.Length > 1 && parts[1].StartsWith("ATTN", StringComparison.Ordinal))
            .Select(parts => parts[1])
            .Distinct()
            .ToArray();

        Assert.Empty(ids.Except(tested));
        Assert.Equal(ids.Length, ids.Distinct().Count());
    }

    [Fact]
    public void SeveralProblemsAreAllReported()
    {
        GeneratorRun run = GeneratorHarness.Run("using AttnGen; [AttentionLayer(0, 4, 0)] public class Layer;");

        Assert.Equal(new[] { "ATTN0001", "ATTN0004", "ATTN0004" }, run.GeneratorDiagnostics.Select(d => d.Id).Order());
        Assert.Empty(run.Files);
    }

    [Fact]
    public void MalformedAttributeIsLeftToTheCompiler()
    {
        GeneratorRun run = GeneratorHarness.Run("using AttnGen; [AttentionLayer(2, 4)] public partial class Layer;");

        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.Files);
        Assert.Contains(run.Output.GetDiagnostics(TestContext.Current.CancellationToken), d => d.Id == "CS7036");
    }

    [Fact]
    public void PragmaSuppressesAWarning()
    {
        const string source = """
            using AttnGen;
            #pragma warning disable ATTN0011
            [AttentionLayer(4, 8, 16, KvSeqLen = 10, Causal = true)]
            public partial class Layer;
            #pragma warning restore ATTN0011
            """;

        GeneratorRun run = GeneratorHarness.Run(source);

        Assert.All(run.GeneratorDiagnostics, d => Assert.True(d.IsSuppressed, d.ToString()));
        Assert.NotEmpty(run.Files);
    }

    [Fact]
    public void PerFileSeverityApplies()
    {
        // What an .editorconfig section "dotnet_diagnostic.ATTN0011.severity = error" gives the compiler.
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation(
            "using AttnGen; [AttentionLayer(4, 8, 16, KvSeqLen = 10, Causal = true)] public partial class Layer;");
        compilation = compilation.WithOptions(compilation.Options.WithSyntaxTreeOptionsProvider(
            new SeverityForFile(GeneratorHarness.SourcePath, "ATTN0011", ReportDiagnostic.Error)));

        GeneratorRun run = GeneratorHarness.Run(compilation);

        Diagnostic d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("ATTN0011", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
    }

    [Fact]
    public void ProjectWideSeverityApplies()
    {
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation(
            "using AttnGen; [AttentionLayer(4, 8, 16, KvSeqLen = 10, Causal = true)] public partial class Layer;");
        compilation = compilation.WithOptions(compilation.Options.WithSpecificDiagnosticOptions(
            new Dictionary<string, ReportDiagnostic> { ["ATTN0011"] = ReportDiagnostic.Suppress }));

        GeneratorRun run = GeneratorHarness.Run(compilation);

        Assert.Empty(run.GeneratorDiagnostics);
        Assert.NotEmpty(run.Files);
    }

    /// <summary>
    /// Runs the generator on <paramref name="markup"/> (after <c>using AttnGen;</c>) and asserts it reports
    /// exactly one diagnostic, with this id, severity and message fragment, on the marked span.
    /// </summary>
    private static GeneratorRun AssertReports(string markup, string id, DiagnosticSeverity severity, string fragment, bool generatesSource = false)
    {
        Markup m = Markup.Parse("using AttnGen;\n" + markup);
        GeneratorRun run = GeneratorHarness.Run(m.Source);

        Diagnostic d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal(id, d.Id);
        Assert.Equal(severity, d.Severity);
        Assert.Contains(fragment, d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        Assert.True(d.Location.IsInSource, $"{id} should be located in the source tree (so #pragma applies), not at {d.Location}");
        Assert.Equal(GeneratorHarness.SourcePath, d.Location.GetLineSpan().Path);
        Assert.Equal(m.Marked, m.Source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        Assert.Equal(m.Span, d.Location.SourceSpan);

        if (generatesSource)
        {
            Assert.NotEmpty(run.Files);
        }
        else
        {
            Assert.Empty(run.Files);
        }
        // Whatever the generator decided, the user's own code still compiles: the only errors are the generator's.
        GeneratorHarness.AssertNoErrors(run, except: id);
        return run;
    }

    /// <summary>A per-file severity, as the compiler gets it from .editorconfig.</summary>
    private sealed class SeverityForFile(string path, string id, ReportDiagnostic severity) : SyntaxTreeOptionsProvider
    {
        public override GeneratedKind IsGenerated(SyntaxTree tree, CancellationToken cancellationToken) => GeneratedKind.Unknown;

        public override bool TryGetDiagnosticValue(SyntaxTree tree, string diagnosticId, CancellationToken cancellationToken, out ReportDiagnostic result)
        {
            result = severity;
            return tree.FilePath == path && diagnosticId == id;
        }

        public override bool TryGetGlobalDiagnosticValue(string diagnosticId, CancellationToken cancellationToken, out ReportDiagnostic result)
        {
            result = ReportDiagnostic.Default;
            return false;
        }
    }
}
