namespace AttnGen.Generator.Tests;

/// <summary>
/// The generated files of each declaration in <see cref="Layers"/>, compared with the reviewed copies in
/// Snapshots/ (see <see cref="Snapshot"/> for accepting an intended change).
/// </summary>
public class SnapshotTests
{
    [Fact]
    public void CausalSelfAttention() => Verify(Layers.CausalSelfAttention);

    [Fact]
    public void CrossAttention() => Verify(Layers.CrossAttention);

    [Fact]
    public void GroupedQuery() => Verify(Layers.GroupedQuery);

    [Fact]
    public void MultiQueryDotProduct() => Verify(Layers.MultiQueryDotProduct);

    [Fact]
    public void AdditiveCore() => Verify(Layers.AdditiveCore);

    [Fact]
    public void ScaledCausalCross() => Verify(Layers.ScaledCausalCross);

    [Fact]
    public void KeywordNames() => Verify(Layers.KeywordNames);

    [Fact]
    public void CachedDecoder() => Verify(Layers.CachedDecoder);

    /// <summary>
    /// The shell only: every file of a layer opens its containing types with the same helper, and the
    /// kernels inside are those of <see cref="KeywordNames"/> (the same shape).
    /// </summary>
    [Fact]
    public void Nested()
    {
        GeneratorRun run = GeneratorHarness.Generate(Layers.Nested);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.All(run.Files.Skip(1), f => Assert.Contains("        partial struct Block\n        {\n", f.Text, StringComparison.Ordinal));
        Snapshot.Verify(run.Files.Take(1).ToArray());
    }

    [Fact]
    public void FirstDifferenceNamesTheLine()
    {
        Assert.Equal(
            "first difference at line 2:\n  verified: b\n  received: B",
            Snapshot.FirstDifference("a\nb\nc\n", "a\nB\nc\n"));
        Assert.Equal(
            "first difference at line 3:\n  verified: (end of file)\n  received: c",
            Snapshot.FirstDifference("a\nb", "a\nb\nc"));
        Assert.Equal(Snapshot.Normalize("a\nb\n"), Snapshot.Normalize("a\r\nb\r\n"));
    }

    private static void Verify(string source, [System.Runtime.CompilerServices.CallerMemberName] string testName = "")
    {
        GeneratorRun run = GeneratorHarness.Generate(source);
        Assert.Empty(run.GeneratorDiagnostics);
        Snapshot.Verify(run.Files, testName);
    }
}
