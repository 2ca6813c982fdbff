using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace AttnGen.Generator.Tests;

/// <summary>
/// The AttnGenInstructionSets MSBuild property: which vector paths are generated, the diagnostic for a name the
/// generator does not know, and a layer built without a path refusing to run it.
/// </summary>
public class InstructionSetTests
{
    private const string Source = "using AttnGen; namespace Demo; [AttentionLayer(2, 8, 5)] internal partial class Small;";

    [Theory]
    [InlineData(null, new[] { "Avx512", "Avx2", "Vector128" })]
    [InlineData("", new[] { "Avx512", "Avx2", "Vector128" })]
    [InlineData("Avx2", new[] { "Avx2" })]
    [InlineData("vector128; AVX512", new[] { "Avx512", "Vector128" })]
    [InlineData("Avx2,Avx512", new[] { "Avx512", "Avx2" })]
    [InlineData("Scalar", new string[0])]
    public void GeneratesTheChosenPaths(string? property, string[] paths)
    {
        GeneratorRun run = Run(Source, property);

        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompilerDiagnostics());
        string[] expected = new[] { "Demo.Small.g.cs", "Demo.Small.Scalar.g.cs" }.Concat(paths.Select(p => $"Demo.Small.{p}.g.cs")).ToArray();
        Assert.Equal(expected, run.Files.Select(f => f.HintName));
        string shell = run.Files[0].Text;
        foreach (string isa in new[] { "Avx512", "Avx2", "Vector128" })
        {
            Assert.Equal(paths.Contains(isa), shell.Contains($"global::AttnGen.KernelIsa.{isa}", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void UnknownName_ATTN0021()
    {
        GeneratorRun run = Run(Source, "Avx2;Avx3;sse");

        Diagnostic d = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal("ATTN0021", d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
        Assert.Equal("AttnGenInstructionSets is 'Avx2;Avx3;sse', and Avx3, sse is not an instruction set AttnGen generates; use any of Avx512, Avx2 and Vector128, separated by ';' (the scalar path is always generated)",
            d.GetMessage(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void ChangingThePropertyRegeneratesAndKeepingItDoesNot()
    {
        GeneratorRun first = Run(Source, "Avx2");
        CSharpCompilation edited = ((CSharpCompilation)first.Input).AddSyntaxTrees(GeneratorHarness.Parse("class Unrelated { }", "/src/Other.cs"));

        GeneratorDriver same = first.Driver.RunGenerators(edited, TestContext.Current.CancellationToken);
        Assert.All(same.GetRunResult().Results.Single().TrackedSteps[AttentionLayerGenerator.Steps.InstructionSets],
            step => Assert.All(step.Outputs, o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, o.Reason.ToString())));

        GeneratorDriver changed = first.Driver.WithUpdatedAnalyzerConfigOptions(new Options("Avx512")).RunGenerators(edited, TestContext.Current.CancellationToken);
        GeneratorRunResult result = changed.GetRunResult().Results.Single();
        Assert.Contains(result.GeneratedSources, s => s.HintName == "Demo.Small.Avx512.g.cs");
        Assert.DoesNotContain(result.GeneratedSources, s => s.HintName == "Demo.Small.Avx2.g.cs");
    }

    [Fact]
    public void LayerWithoutAPathRefusesIt()
    {
        GeneratorRun run = Run(Source, "Scalar");
        using var stream = new MemoryStream();
        Microsoft.CodeAnalysis.Emit.EmitResult emitted = run.Output.Emit(stream, cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        var context = new AssemblyLoadContext("InstructionSetTests", isCollectible: true);
        try
        {
            stream.Position = 0;
            Assembly assembly = context.LoadFromStream(stream);
            using var layer = (IAttentionLayer)Activator.CreateInstance(assembly.GetType("Demo.Small")!)!;

            Assert.Equal(KernelIsa.Scalar, layer.Isa);
            if (KernelIsaSupport.IsSupported(KernelIsa.Vector128))
            {
                NotSupportedException e = Assert.Throws<NotSupportedException>(() => layer.Isa = KernelIsa.Vector128);
                Assert.Contains("Small has no Vector128 kernels", e.Message, StringComparison.Ordinal);
                Assert.Contains("AttnGenInstructionSets", e.Message, StringComparison.Ordinal);
                Assert.Equal(KernelIsa.Scalar, layer.Isa);
            }
            float[] input = new float[5 * 16], output = new float[5 * 16];
            layer.ResetParameters(1);
            input.AsSpan().Fill(0.5f);
            layer.Forward(input, input, input, output, 1);
            Assert.All(output, v => Assert.True(float.IsFinite(v)));
        }
        finally
        {
            context.Unload();
        }
    }

    private static GeneratorRun Run(string source, string? property)
    {
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation(source);
        GeneratorDriver driver = CSharpGeneratorDriver.Create(
            new[] { new AttentionLayerGenerator().AsSourceGenerator() },
            parseOptions: GeneratorHarness.ParseOptions,
            optionsProvider: new Options(property),
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        return GeneratorHarness.Run(compilation, driver);
    }

    /// <summary>The project's MSBuild properties as the compiler passes them to generators.</summary>
    private sealed class Options(string? instructionSets) : AnalyzerConfigOptionsProvider
    {
        public override AnalyzerConfigOptions GlobalOptions { get; } = new Values(instructionSets);

        public override AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Values.None;

        public override AnalyzerConfigOptions GetOptions(AdditionalText textFile) => Values.None;

        private sealed class Values(string? instructionSets) : AnalyzerConfigOptions
        {
            public static readonly Values None = new(null);

            public override bool TryGetValue(string key, out string value)
            {
                value = instructionSets ?? "";
                return key == "build_property.AttnGenInstructionSets" && instructionSets is not null;
            }
        }
    }
}
