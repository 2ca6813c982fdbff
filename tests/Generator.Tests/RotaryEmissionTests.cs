namespace AttnGen.Generator.Tests;

/// <summary>
/// A rotary layer's sequence methods turn q and k after the projections and dq, dk back before the projections'
/// backward, each on its own path; a layer without <c>Rotary</c> has no rotation anywhere.
/// </summary>
public class RotaryEmissionTests
{
    private static readonly (string File, string Path)[] KernelFiles =
    [
        (".Scalar.g.cs", "Scalar"), (".Vector128.g.cs", "Vector128"), (".Avx2.g.cs", "Avx2"), (".Avx512.g.cs", "Avx512"),
    ];

    [Fact]
    public void RotaryLayer_RotatesBetweenProjectionsAndCore_OnEveryPath()
    {
        GeneratorRun run = GeneratorHarness.Generate(
            "using AttnGen; namespace Demo; [AttentionLayer(4, 8, 12, KvHeads = 2, Causal = true, Rotary = true)] public partial class Layer;");
        Assert.Empty(run.GeneratorDiagnostics);
        foreach ((string suffix, string path) in KernelFiles)
        {
            string text = run.Files.Single(f => f.HintName.EndsWith(suffix, StringComparison.Ordinal)).Text;
            string isa = "global::AttnGen.KernelIsa." + path;
            string forward = Method(text, "ForwardSequence__");
            int rotateQ = forward.IndexOf($"rotary.Rotate(q, SeqLen, QueryWidth, Heads, {isa}, split);", StringComparison.Ordinal);
            int rotateK = forward.IndexOf($"rotary.Rotate(k, KvSeqLen, KvWidth, KvHeads, {isa}, split);", StringComparison.Ordinal);
            Assert.True(rotateQ > 0 && rotateK > rotateQ, $"{path}: no forward rotation of q then k on its own path");
            Assert.True(forward.IndexOf("(value, ", StringComparison.Ordinal) < rotateQ, $"{path}: q rotated before the projections ended");
            Assert.True(forward.IndexOf("Attention__", StringComparison.Ordinal) > rotateK, $"{path}: the core runs before the rotation");

            string backward = Method(text, "BackwardSequence__");
            int backQ = backward.IndexOf($"rotary.RotateBack(dq, SeqLen, QueryWidth, Heads, {isa}, split);", StringComparison.Ordinal);
            int backK = backward.IndexOf($"rotary.RotateBack(dk, KvSeqLen, KvWidth, KvHeads, {isa}, split);", StringComparison.Ordinal);
            Assert.True(backQ > 0 && backK > backQ, $"{path}: no backward rotation of dq then dk on its own path");
            Assert.True(backward.IndexOf("BackwardCore__", StringComparison.Ordinal) < backQ, $"{path}: dq turned back before the core produced it");
            Assert.True(backward.IndexOf("(dq, xq, ", StringComparison.Ordinal) > backK, $"{path}: the input projections' backward runs before dq, dk are turned back");
        }
        Assert.Contains("new global::AttnGen.RotaryTable(HeadDim, SeqLen, 10000d)", run.Files[0].Text, StringComparison.Ordinal);
    }

    [Fact]
    public void LayerWithoutRotary_HasNoRotation()
    {
        GeneratorRun run = GeneratorHarness.Generate(
            "using AttnGen; namespace Demo; [AttentionLayer(4, 8, 12, KvHeads = 2, Causal = true)] public partial class Layer;");
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.All(run.Files, f => Assert.DoesNotContain("otary", f.Text, StringComparison.Ordinal));
    }

    /// <summary>The text of the first method whose name starts with <paramref name="prefix"/>, to the next blank line after its body.</summary>
    private static string Method(string text, string prefix)
    {
        int start = text.IndexOf("void " + prefix, StringComparison.Ordinal);
        Assert.True(start >= 0, $"no method {prefix}*");
        int end = text.IndexOf("\n        }\n", start, StringComparison.Ordinal);
        return text[start..end];
    }
}
