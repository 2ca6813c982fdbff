using System.Reflection;
using AttnGen.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace AttnGen.Generator.Tests;

/// <summary>
/// An edit elsewhere in the user's project must not re-run planning or emission: checked with
/// the driver's step tracking, for every step named in <see cref="AttentionLayerGenerator.Steps"/>.
/// </summary>
public class IncrementalTests
{
    private const string WarnedPath = "/src/Warned.cs";
    private const string OtherPath = "/src/Other.cs";

    /// <summary>A layer with a warning (ATTN0011), so the Diagnostics step has an output too.</summary>
    private const string WarnedLayer = """
        using AttnGen;

        namespace Demo;

        /// <summary>Keys shorter than queries.</summary>
        [AttentionLayer(2, 4, 6, KvSeqLen = 4, Causal = true)]
        public partial class WarnedLayer;

        /// <summary>Something else in the same file.</summary>
        public static class Helpers
        {
            /// <summary>A method to edit.</summary>
            public static int Answer() => 42;
        }
        """;

    private const string Other = """
        namespace Demo;

        /// <summary>Unrelated code.</summary>
        public static class Other
        {
            /// <summary>A method to edit.</summary>
            public static int Twice(int x) => 2 * x;
        }
        """;

    private static readonly IncrementalStepRunReason[] CachedReasons = { IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged };

    public static IReadOnlyList<string> StepNames { get; } = typeof(AttentionLayerGenerator.Steps)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral)
        .Select(f => (string)f.GetRawConstantValue()!)
        .ToArray();

    [Fact]
    public void AddingAnUnrelatedFileKeepsEveryStepCached()
        => AssertEditKeepsEverythingCached(project =>
            project.AddSyntaxTrees(GeneratorHarness.Parse("namespace Demo; internal sealed class Added { }", "/src/Added.cs")));

    [Fact]
    public void EditingAnUnrelatedMethodKeepsEveryStepCached()
        // In another file, and below a layer in the layer's own file (that file is parsed again).
        => AssertEditKeepsEverythingCached(project => Replace(
            Replace(project, OtherPath, Other.Replace("2 * x", "x + x", StringComparison.Ordinal)),
            WarnedPath, WarnedLayer.Replace("=> 42", "=> 41 + 1", StringComparison.Ordinal)));

    [Fact]
    public void MovingALayerReportsItsDiagnosticAgainButKeepsItsSource()
    {
        GeneratorRun first = GeneratorHarness.Run(CreateProject());

        Compilation edited = Replace(first.Input, WarnedPath, "// Two lines\n// above the layer.\n" + WarnedLayer);
        GeneratorRun second = GeneratorHarness.Run(edited, first.Driver);

        // The parse result holds the diagnostic's position, so it changes; the spec does not.
        Assert.Contains(Outputs(second, AttentionLayerGenerator.Steps.Parse), o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Contains(Outputs(second, AttentionLayerGenerator.Steps.Diagnostics), o => o.Reason == IncrementalStepRunReason.Modified);
        foreach (string step in new[] { AttentionLayerGenerator.Steps.Spec, AttentionLayerGenerator.Steps.Plan })
        {
            Assert.All(Outputs(second, step), o => Assert.Contains(o.Reason, CachedReasons));
        }
        Assert.All(EmissionOutputs(second), o => Assert.Contains(o.Reason, CachedReasons));

        Diagnostic warning = Assert.Single(second.GeneratorDiagnostics);
        Assert.Equal(first.GeneratorDiagnostics.Single().Location.GetLineSpan().StartLinePosition.Line + 2,
            warning.Location.GetLineSpan().StartLinePosition.Line);
    }

    [Fact]
    public void ChangingAnAttributeArgumentRegenerates()
    {
        GeneratorRun first = GeneratorHarness.Run(CreateProject());

        Compilation edited = Replace(first.Input, WarnedPath, WarnedLayer.Replace("AttentionLayer(2, 4, 6", "AttentionLayer(4, 4, 6", StringComparison.Ordinal));
        GeneratorRun second = GeneratorHarness.Run(edited, first.Driver);

        foreach (string step in new[] { AttentionLayerGenerator.Steps.Parse, AttentionLayerGenerator.Steps.Spec, AttentionLayerGenerator.Steps.Plan })
        {
            Assert.Contains(Outputs(second, step), o => o.Reason == IncrementalStepRunReason.Modified);
        }
        Assert.Contains(Outputs(second, AttentionLayerGenerator.Steps.Plan),
            o => o.Reason == IncrementalStepRunReason.Modified && ((KernelPlan)o.Value).Spec.Heads == 4);
        Assert.Contains(EmissionOutputs(second), o => o.Reason == IncrementalStepRunReason.Modified);
        // Only the edited layer: the others stay cached.
        Assert.Single(Outputs(second, AttentionLayerGenerator.Steps.Plan), o => o.Reason != IncrementalStepRunReason.Cached);

        string shell = second.Files.Single(f => f.HintName == "Demo.WarnedLayer.g.cs").Text;
        Assert.Contains("public const int Heads = 4;", shell, StringComparison.Ordinal);
        Assert.DoesNotContain("public const int Heads = 2;", shell, StringComparison.Ordinal);
    }

    [Fact]
    public void ModelsFromTwoCompilationsAreValueEqual()
    {
        // Two projects parsed from the same text share no objects: equal models mean equality by value.
        GeneratorRun a = GeneratorHarness.Run(CreateProject());
        GeneratorRun b = GeneratorHarness.Run(CreateProject());

        foreach (string step in StepNames)
        {
            object[] left = Outputs(a, step).Select(o => o.Value).ToArray();
            object[] right = Outputs(b, step).Select(o => o.Value).ToArray();
            Assert.NotEmpty(left);
            Assert.Equal(left, right);
            Assert.Equal(left.Select(v => v.GetHashCode()), right.Select(v => v.GetHashCode()));
        }
        Assert.Contains(Outputs(a, AttentionLayerGenerator.Steps.Parse), o => o.Value is ParseResult { Spec: not null, Diagnostics.IsEmpty: true });
        Assert.Contains(Outputs(a, AttentionLayerGenerator.Steps.Parse), o => o.Value is ParseResult { Spec: not null, Diagnostics.IsEmpty: false });
        Assert.NotSame(Outputs(a, AttentionLayerGenerator.Steps.Plan)[0].Value, Outputs(b, AttentionLayerGenerator.Steps.Plan)[0].Value);
    }

    [Fact]
    public void ModelsHoldNoCompilerObjects()
    {
        // A symbol, node, tree, location or compilation in a model would keep the old compilation alive and
        // make every edit look like a change.
        Type[] forbidden = { typeof(ISymbol), typeof(SyntaxNode), typeof(SyntaxTree), typeof(Location), typeof(Compilation), typeof(SemanticModel), typeof(AttributeData) };
        var seen = new HashSet<Type>();
        var pending = new Stack<Type>(new[] { typeof(ParseResult), typeof(KernelPlan) });
        while (pending.Count > 0)
        {
            Type type = pending.Pop();
            if (!seen.Add(type))
            {
                continue;
            }
            Assert.DoesNotContain(forbidden, f => f.IsAssignableFrom(type));
            foreach (Type argument in type.GetGenericArguments())
            {
                pending.Push(argument);
            }
            if (type.Assembly == typeof(AttentionLayerGenerator).Assembly)
            {
                foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                {
                    pending.Push(field.FieldType.IsArray ? field.FieldType.GetElementType()! : field.FieldType);
                }
            }
        }
        Assert.Contains(typeof(LayerSpec), seen);
        Assert.Contains(typeof(LocationInfo), seen);
    }

    private static CSharpCompilation CreateProject()
        => GeneratorHarness.CreateCompilation(
            Layers.All.Select(l => GeneratorHarness.Parse(l.Source, $"/src/{l.Name}.cs"))
                .Append(GeneratorHarness.Parse(WarnedLayer, WarnedPath))
                .Append(GeneratorHarness.Parse(Other, OtherPath)));

    private static Compilation Replace(Compilation compilation, string path, string source)
        => compilation.ReplaceSyntaxTree(
            compilation.SyntaxTrees.Single(t => t.FilePath == path),
            GeneratorHarness.Parse(source, path));

    private static void AssertEditKeepsEverythingCached(Func<Compilation, Compilation> edit)
    {
        GeneratorRun first = GeneratorHarness.Run(CreateProject());

        GeneratorRun second = GeneratorHarness.Run(edit(first.Input), first.Driver);

        AssertEverythingCached(second);
        Assert.Equal(first.Files, second.Files);
    }

    private static void AssertEverythingCached(GeneratorRun run)
    {
        foreach (string step in StepNames)
        {
            Assert.All(Outputs(run, step), o => Assert.True(CachedReasons.Contains(o.Reason), $"step {step}: {o.Reason} {o.Value}"));
        }
        Assert.All(EmissionOutputs(run), o => Assert.True(CachedReasons.Contains(o.Reason), $"source output: {o.Reason}"));
    }

    /// <summary>The outputs of a named step; fails when the step did not run at all.</summary>
    private static IReadOnlyList<(object Value, IncrementalStepRunReason Reason)> Outputs(GeneratorRun run, string step)
    {
        Assert.True(run.Result.TrackedSteps.TryGetValue(step, out var runs), $"step {step} was not tracked");
        var outputs = runs.SelectMany(r => r.Outputs).ToArray();
        Assert.NotEmpty(outputs);
        return outputs;
    }

    /// <summary>
    /// The outputs of the source-output steps that emit code: those fed by the Plan step (the other
    /// source output reports diagnostics).
    /// </summary>
    private static IReadOnlyList<(object Value, IncrementalStepRunReason Reason)> EmissionOutputs(GeneratorRun run)
    {
        var outputs = run.Result.TrackedOutputSteps[WellKnownGeneratorOutputs.SourceOutput]
            .Where(step => FedBy(step, AttentionLayerGenerator.Steps.Plan))
            .SelectMany(step => step.Outputs)
            .ToArray();
        Assert.NotEmpty(outputs);
        return outputs;
    }

    private static bool FedBy(IncrementalGeneratorRunStep step, string name)
        => step.Inputs.Any(input => input.Source.Name == name || FedBy(input.Source, name));
}
