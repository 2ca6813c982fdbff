using System.Globalization;
using AttnGen.Generator.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace AttnGen.Generator.Tests;

/// <summary>
/// Declarations a user may write that the generator must either turn into code that compiles or answer
/// with one accurate error: nested types, names that differ only by case, names of generated members,
/// records, and attribute arguments that are not constants of the right type.
/// </summary>
public class RobustnessTests
{
    /// <summary>Every kind of type a class can be nested in, with the modifiers its partial parts must repeat.</summary>
    [Theory]
    [InlineData("public partial class Outer")]
    [InlineData("public static partial class Outer")]
    [InlineData("public abstract partial class Outer")]
    [InlineData("public sealed partial class Outer")]
    [InlineData("public partial struct Outer")]
    [InlineData("public readonly partial struct Outer")]
    [InlineData("public ref partial struct Outer")]
    [InlineData("public readonly ref partial struct Outer")]
    [InlineData("public partial record Outer")]
    [InlineData("public partial record class Outer")]
    [InlineData("public partial record struct Outer")]
    [InlineData("public readonly partial record struct Outer")]
    [InlineData("public sealed partial record Outer(int X)")]
    [InlineData("public partial interface IOuter")]
    [InlineData("public partial class Outer<T> where T : struct")]
    [InlineData("public partial interface IOuter<T>")]
    [InlineData("public partial class @class<@event>")]
    public void NestedLayersCompile(string container)
    {
        string source = $$"""
            using AttnGen;
            namespace Demo;
            {{container}}
            {
                [AttentionLayer(2, 4, 3)]
                public partial class Layer;
            }
            """;

        GeneratorRun run = GeneratorHarness.Generate(source);

        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Equal(5, run.Files.Count);
    }

    [Fact]
    public void DeeplyNestedLayerCompilesAndKeepsItsFullName()
    {
        const string source = """
            using AttnGen;
            namespace Demo;
            public partial class A
            {
                internal partial struct B<T>
                {
                    private partial record C
                    {
                        [AttentionLayer(2, 4, 3)]
                        public partial class Layer;

                        public static int Width => Layer.ModelDim;
                    }
                }
            }
            """;

        GeneratorRun run = GeneratorHarness.Generate(source);

        Assert.Empty(run.GeneratorDiagnostics);
        INamedTypeSymbol layer = run.Output.GetTypeByMetadataName("Demo.A+B`1+C+Layer")!;
        Assert.NotNull(layer);
        // Forward comes from the runtime core the layer derives from.
        Assert.Contains(layer.BaseType!.GetMembers().Concat(layer.BaseType.BaseType!.GetMembers()), m => m.Name == "Forward");
        Assert.All(run.Files, f => Assert.StartsWith("Demo.A.B.C.Layer.", f.HintName, StringComparison.Ordinal));
        Assert.Contains("\"Demo.A.B.C.Layer\"", run.Files[0].Text, StringComparison.Ordinal);
    }

    /// <summary>Two layers whose full names differ only by case: hint names must differ ignoring case.</summary>
    [Fact]
    public void LayersWhoseNamesDifferOnlyByCaseBothGenerate()
    {
        const string source = """
            using AttnGen;
            namespace Demo
            {
                [AttentionLayer(2, 4, 3)] public partial class Layer;
                [AttentionLayer(2, 4, 5)] public partial class layer;
                [AttentionLayer(2, 4, 7)] public partial class LAYER;
            }
            namespace demo
            {
                [AttentionLayer(2, 4, 9)] public partial class Layer;
            }
            """;

        GeneratorRun run = GeneratorHarness.Generate(source);

        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Equal(4 * 5, run.Files.Count);
        Assert.Equal(run.Files.Count, run.Files.Select(f => f.HintName).Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.Equal(5, run.Output.GetTypeByMetadataName("Demo.layer")!.GetMembers("SeqLen").OfType<IFieldSymbol>().Single().ConstantValue);
        Assert.Equal(9, run.Output.GetTypeByMetadataName("demo.Layer")!.GetMembers("SeqLen").OfType<IFieldSymbol>().Single().ConstantValue);
    }

    [Fact]
    public void CaseVariantHintNamesAreDeterministicAndLeaveOtherLayersAlone()
    {
        const string source = """
            using AttnGen;
            namespace Demo;
            [AttentionLayer(2, 4, 3)] public partial class Layer;
            [AttentionLayer(2, 4, 5)] public partial class layer;
            [AttentionLayer(2, 4, 7)] public partial class Other;
            """;

        string[] first = GeneratorHarness.Generate(source).Files.Select(f => f.HintName).ToArray();
        string[] second = GeneratorHarness.Generate(source).Files.Select(f => f.HintName).ToArray();

        Assert.Equal(first, second);
        Assert.Contains("Demo.Other.g.cs", first);
        Assert.Contains("Demo.Layer-1.g.cs", first);
        Assert.Contains("Demo.layer-2.g.cs", first);
    }

    /// <summary>
    /// <see cref="LayerParser.ReservedNames"/> is the one list of names a layer type cannot have: every
    /// member the generator adds to a layer must be in it (or contain "__", which the parser also refuses).
    /// </summary>
    [Theory]
    [MemberData(nameof(Layers.Names), MemberType = typeof(Layers))]
    public void EveryGeneratedMemberNameIsReserved(string layer)
    {
        GeneratorRun run = GeneratorHarness.Generate(Layers.Get(layer));

        var declared = new HashSet<string>(StringComparer.Ordinal);
        foreach (SyntaxTree tree in run.Output.SyntaxTrees.Where(t => !t.FilePath.StartsWith("/src/", StringComparison.Ordinal)))
        {
            SemanticModel model = run.Output.GetSemanticModel(tree);
            foreach (SyntaxNode node in tree.GetRoot(TestContext.Current.CancellationToken).DescendantNodes())
            {
                if (node is MemberDeclarationSyntax and not BaseNamespaceDeclarationSyntax and not TypeDeclarationSyntax
                    || node is VariableDeclaratorSyntax)
                {
                    ISymbol? symbol = model.GetDeclaredSymbol(node, TestContext.Current.CancellationToken);
                    if (symbol is not null && symbol.Kind != SymbolKind.Local && symbol.ContainingType is not null)
                    {
                        declared.Add(symbol.Name);
                    }
                }
            }
        }

        Assert.NotEmpty(declared);
        string[] unlisted = declared
            // Explicit interface implementations ("global::AttnGen.IAttentionLayer.Info") cannot clash.
            .Where(n => !LayerParser.ReservedNames.Contains(n) && !n.Contains("__", StringComparison.Ordinal) && !n.Contains('.', StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToArray();
        Assert.True(unlisted.Length == 0, "add to LayerParser.ReservedNames: " + string.Join(", ", unlisted));
    }

    /// <summary>A type named like any reserved name gets ATTN0015 and no code, never a compiler error in generated code.</summary>
    [Fact]
    public void EveryReservedNameIsRefused()
    {
        foreach (string name in LayerParser.ReservedNames)
        {
            GeneratorRun run = GeneratorHarness.Run($"using AttnGen; namespace Demo; [AttentionLayer(2, 4, 3)] public partial class {name};");

            Diagnostic d = Assert.Single(run.GeneratorDiagnostics);
            Assert.Equal("ATTN0015", d.Id);
            Assert.Empty(run.Files);
            GeneratorHarness.AssertNoErrors(run, except: "ATTN0015");
        }
    }

    [Theory]
    [InlineData("[|Forward|]")]
    [InlineData("[|Load|]")]
    [InlineData("[|Isa|]")]
    [InlineData("[|Heads|]")]
    [InlineData("[|Dispose|]")]
    [InlineData("[|Lin__ear|]")]
    public void ReservedNamesPointAtTheTypeName(string name)
    {
        Markup m = Markup.Parse($"using AttnGen; namespace Demo; [AttentionLayer(2, 4, 3)] public partial class {name};");

        GeneratorRun run = GeneratorHarness.Run(m.Source);

        Diagnostic d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("ATTN0015", d.Id);
        Assert.Equal(m.Span, d.Location.SourceSpan);
        Assert.Contains($"'{m.Marked}'", d.GetMessage(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    /// <summary>A container named like a file-level alias of the kernel files would hide that alias.</summary>
    [Fact]
    public void ContainerNamedLikeAKernelAliasIsRefused()
    {
        Markup m = Markup.Parse("using AttnGen; namespace Demo; public partial class [|AgVec|] { [AttentionLayer(2, 4, 3)] public partial class Layer; }");

        GeneratorRun run = GeneratorHarness.Run(m.Source);

        Diagnostic d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("ATTN0015", d.Id);
        Assert.Equal(m.Span, d.Location.SourceSpan);
        GeneratorHarness.AssertNoErrors(run, except: "ATTN0015");
    }

    /// <summary>
    /// Arguments that are not constants, or constants of the wrong type: the compiler's error is the one
    /// message (no ATTN diagnostic built from a guessed value), and no code is generated from a guess.
    /// </summary>
    [Theory]
    [InlineData("[AttentionLayer(Sizes.Heads, 4, 3)]", "CS0182")]
    [InlineData("[AttentionLayer(2, 4, 3, ModelDim = Sizes.Heads)]", "CS0182")]
    [InlineData("[AttentionLayer(2.5, 4, 3)]", "CS1503")]
    [InlineData("[AttentionLayer(\"2\", 4, 3)]", "CS1503")]
    [InlineData("[AttentionLayer(2, 4, 3, Scale = \"0.5\")]", "CS0029")]
    [InlineData("[AttentionLayer(2, 4, 3, Scale = Sizes.Scale)]", "CS0182")]
    [InlineData("[AttentionLayer(2, 4, 3, Scoring = 7)]", "CS0266")]
    [InlineData("[AttentionLayer(2, 4, 3, Scoring = 1)]", "CS0266")]
    [InlineData("[AttentionLayer(2, 4, 3, KvHeads = 1.0)]", "CS0266")]
    [InlineData("[AttentionLayer(2, 4, 3, Causal = 1)]", "CS0029")]
    [InlineData("[AttentionLayer(2, 4, 3, Bias = null)]", "CS0037")]
    [InlineData("[AttentionLayer(2, 4, 3, Heads = 4)]", "CS0617")]
    [InlineData("[AttentionLayer(2, 4, 3, Missing = 4)]", "CS0246")]
    public void IllTypedOrNonConstantArgumentsGetTheCompilersOneError(string attribute, string id)
    {
        string source = $$"""
            using AttnGen;
            public static class Sizes { public static int Heads = 2; public static double Scale = 0.5; }
            {{attribute}} public partial class Layer;
            """;

        GeneratorRun run = GeneratorHarness.Run(source);

        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.Files);
        Diagnostic error = Assert.Single(run.Output.GetDiagnostics(TestContext.Current.CancellationToken), d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal(id, error.Id);
    }

    /// <summary>A record struct is no class: the attribute's usage (classes only) makes it the compiler's one error.</summary>
    [Fact]
    public void RecordStructTargetIsTheCompilersOneError()
    {
        GeneratorRun run = GeneratorHarness.Run("using AttnGen; [AttentionLayer(2, 4, 3)] public partial record struct Layer;");

        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.Files);
        Diagnostic error = Assert.Single(run.Output.GetDiagnostics(TestContext.Current.CancellationToken), d => d.Severity == DiagnosticSeverity.Error);
        Assert.Equal("CS0592", error.Id);
    }
}
