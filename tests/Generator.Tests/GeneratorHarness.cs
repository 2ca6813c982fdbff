using System.Collections.Immutable;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace AttnGen.Generator.Tests;

/// <summary>One file the generator added: its hint name and text.</summary>
public sealed record GeneratedFile(string HintName, string Text);

/// <summary>What one generator pass produced.</summary>
public sealed class GeneratorRun
{
    public GeneratorRun(GeneratorDriver driver, Compilation input, Compilation output, ImmutableArray<Diagnostic> generatorDiagnostics)
    {
        Driver = driver;
        Input = input;
        Output = output;
        GeneratorDiagnostics = generatorDiagnostics;
        Result = driver.GetRunResult().Results.Single();
        Files = Result.GeneratedSources
            .Select(s => new GeneratedFile(s.HintName, s.SourceText.ToString()))
            .ToArray();
    }

    /// <summary>The driver after the pass; run it again on an edited compilation to test caching.</summary>
    public GeneratorDriver Driver { get; }

    /// <summary>The compilation the generator ran on.</summary>
    public Compilation Input { get; }

    /// <summary>The input plus the generated trees.</summary>
    public Compilation Output { get; }

    /// <summary>Diagnostics the generator reported (not the compiler's).</summary>
    public ImmutableArray<Diagnostic> GeneratorDiagnostics { get; }

    /// <summary>The generator's run result, with the tracked incremental steps.</summary>
    public GeneratorRunResult Result { get; }

    /// <summary>Generated files in the order the generator added them.</summary>
    public IReadOnlyList<GeneratedFile> Files { get; }

    /// <summary>Compiler diagnostics of <see cref="Output"/> at warning level and above.</summary>
    public ImmutableArray<Diagnostic> CompilerDiagnostics()
        => Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToImmutableArray();

    /// <summary>Total UTF-8 size of every generated file.</summary>
    public long GeneratedBytes => Files.Sum(f => (long)Encoding.UTF8.GetByteCount(f.Text));
}

/// <summary>
/// Builds compilations from source text and runs <see cref="AttentionLayerGenerator"/> on them with step
/// tracking on, the way the compiler would.
/// </summary>
public static class GeneratorHarness
{
    /// <summary>Path the test sources get; diagnostics locations are checked against it.</summary>
    public const string SourcePath = "/src/Layer.cs";

    /// <summary>
    /// C# latest with documentation comments parsed and checked, so malformed XML docs in the generated
    /// code show up as warnings.
    /// </summary>
    public static readonly CSharpParseOptions ParseOptions =
        new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(LoadReferences);

    /// <summary>The shared framework's assemblies, AttnGen.Attributes and AttnGen.Runtime.</summary>
    public static ImmutableArray<MetadataReference> References => s_references.Value;

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        // The trusted platform assemblies also list this test's own dependencies (Roslyn, xunit); keep
        // only those of the shared framework, next to System.Private.CoreLib.
        string frameworkDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        string trusted = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        IEnumerable<string> framework = trusted
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => string.Equals(Path.GetDirectoryName(p), frameworkDirectory, StringComparison.Ordinal));
        IEnumerable<string> attnGen = new[]
        {
            typeof(AttentionLayerAttribute).Assembly.Location,
            typeof(AlignedBuffer).Assembly.Location,
        };
        return framework.Concat(attnGen)
            .Distinct(StringComparer.Ordinal)
            .OrderBy(p => p, StringComparer.Ordinal)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p))
            .ToImmutableArray();
    }

    /// <summary>
    /// Compilation options like the repository's projects: a library, nullable on, unsafe allowed, every
    /// warning wave reported.
    /// </summary>
    public static CSharpCompilationOptions CompilationOptions(bool allowUnsafe = true)
        => new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary)
            .WithNullableContextOptions(NullableContextOptions.Enable)
            .WithAllowUnsafe(allowUnsafe)
            .WithWarningLevel(9999)
            .WithDeterministic(true);

    public static SyntaxTree Parse(string source, string path = SourcePath)
        => CSharpSyntaxTree.ParseText(source, ParseOptions, path, Encoding.UTF8);

    public static CSharpCompilation CreateCompilation(string source, bool allowUnsafe = true)
        => CreateCompilation(new[] { Parse(source) }, allowUnsafe);

    public static CSharpCompilation CreateCompilation(IEnumerable<SyntaxTree> trees, bool allowUnsafe = true)
        => CSharpCompilation.Create("UserAssembly", trees, References, CompilationOptions(allowUnsafe));

    /// <summary>A driver with incremental step tracking on and no output kinds disabled.</summary>
    public static GeneratorDriver CreateDriver()
        => CSharpGeneratorDriver.Create(
            new[] { new AttentionLayerGenerator().AsSourceGenerator() },
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    /// <summary>Runs <paramref name="driver"/> (a fresh one by default) on <paramref name="compilation"/>.</summary>
    public static GeneratorRun Run(Compilation compilation, GeneratorDriver? driver = null)
    {
        driver = (driver ?? CreateDriver())
            .RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        return new GeneratorRun(driver, compilation, output, diagnostics);
    }

    public static GeneratorRun Run(string source, bool allowUnsafe = true)
        => Run(CreateCompilation(source, allowUnsafe));

    /// <summary>
    /// Runs the generator on <paramref name="source"/> and asserts the result compiles: no compiler
    /// error in the output compilation and no generator error.
    /// </summary>
    public static GeneratorRun Generate(string source)
    {
        GeneratorRun run = Run(source);
        AssertNoErrors(run);
        return run;
    }

    /// <summary>
    /// Asserts that neither the generator nor the compiler reports an error, except generator diagnostics
    /// with the id <paramref name="except"/>.
    /// </summary>
    public static void AssertNoErrors(GeneratorRun run, string? except = null)
    {
        Diagnostic[] errors = run.GeneratorDiagnostics
            .Where(d => d.Id != except)
            .Concat(run.Output.GetDiagnostics())
            .Where(d => d.Severity == DiagnosticSeverity.Error)
            .ToArray();
        Assert.True(errors.Length == 0, "Expected no errors, got:\n" + Describe(errors));
    }

    /// <summary>One diagnostic a line, with file and position, for assertion messages.</summary>
    public static string Describe(IEnumerable<Diagnostic> diagnostics)
        => string.Join("\n", diagnostics.Select(d => d.ToString()));
}
