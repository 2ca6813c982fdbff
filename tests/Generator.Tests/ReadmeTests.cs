using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace AttnGen.Generator.Tests;

/// <summary>
/// Every C# block of README.md compiles with the generator, so the examples cannot rot. A block is a whole
/// program (top-level statements, then its declarations) as a user's console project with implicit usings
/// would build it; a block that starts with <c>// Fragment: `layer` is any generated layer</c> is compiled
/// as the body of a method with a <c>layer</c> parameter of type <see cref="IAttentionLayer"/>.
/// </summary>
public partial class ReadmeTests
{
    private const string LayerFragment = "// Fragment: `layer` is any generated layer (IAttentionLayer).";

    /// <summary>What the SDK's implicit usings give a console project.</summary>
    private const string ImplicitUsings = """
        global using global::System;
        global using global::System.Collections.Generic;
        global using global::System.IO;
        global using global::System.Linq;
        global using global::System.Net.Http;
        global using global::System.Threading;
        global using global::System.Threading.Tasks;
        """;

    public static TheoryData<int> Blocks()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < CSharpBlocks().Count; i++)
        {
            data.Add(i);
        }
        return data;
    }

    [Fact]
    public void ReadmeHasCSharpBlocks()
    {
        IReadOnlyList<(int Line, string Code)> blocks = CSharpBlocks();
        Assert.True(blocks.Count >= 3, $"found {blocks.Count} C# blocks in README.md");
        // The first example, the one Install tells a new user to run, is a whole program.
        Assert.DoesNotContain("// Fragment:", blocks[0].Code, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public void BlockCompiles(int index)
    {
        (int line, string code) = CSharpBlocks()[index];
        string source;
        bool fragment = code.StartsWith("// Fragment:", StringComparison.Ordinal);
        if (fragment)
        {
            Assert.True(code.StartsWith(LayerFragment, StringComparison.Ordinal),
                $"README.md line {line}: the only fragment kind the test knows is \"{LayerFragment}\"");
            source = "using AttnGen;\nstatic class Fragment\n{\n    static void Run(IAttentionLayer layer)\n    {\n" + code + "\n    }\n}\n";
        }
        else
        {
            source = code;
        }
        CSharpCompilation compilation = GeneratorHarness.CreateCompilation(new[]
            {
                GeneratorHarness.Parse(source, "/src/Readme.cs"),
                GeneratorHarness.Parse(ImplicitUsings, "/src/ImplicitUsings.cs"),
            })
            .WithOptions(GeneratorHarness.CompilationOptions().WithOutputKind(fragment ? OutputKind.DynamicallyLinkedLibrary : OutputKind.ConsoleApplication))
            // The package's one dependency, for the tensor examples.
            .AddReferences(MetadataReference.CreateFromFile(typeof(System.Numerics.Tensors.TensorSpan<float>).Assembly.Location));

        GeneratorRun run = GeneratorHarness.Run(compilation);

        Diagnostic[] problems = run.GeneratorDiagnostics
            .Concat(run.Output.GetDiagnostics(TestContext.Current.CancellationToken))
            .Where(d => d.Severity >= DiagnosticSeverity.Warning && d.Id != "CS1591")
            .ToArray();
        Assert.True(problems.Length == 0, $"README.md block at line {line}:\n{GeneratorHarness.Describe(problems)}");
    }

    /// <summary>The ```csharp blocks of README.md with the line each starts on.</summary>
    private static IReadOnlyList<(int Line, string Code)> CSharpBlocks([CallerFilePath] string thisFile = "")
    {
        string readme = Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "README.md");
        string text = File.ReadAllText(readme).Replace("\r\n", "\n", StringComparison.Ordinal);
        var blocks = new List<(int, string)>();
        foreach (Match m in Block().Matches(text))
        {
            int line = text.AsSpan(0, m.Index).Count('\n') + 1;
            blocks.Add((line, m.Groups[1].Value));
        }
        return blocks;
    }

    [GeneratedRegex(@"^```csharp\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Block();
}
