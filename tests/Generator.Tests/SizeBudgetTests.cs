namespace AttnGen.Generator.Tests;

/// <summary>
/// Full unrolling belongs inside the register tile only (DESIGN §4): generated source must not grow with
/// the sequence length, and a layer must stay within a fixed size budget.
/// </summary>
public class SizeBudgetTests(ITestOutputHelper output)
{
    /// <summary>
    /// Total generated source per layer, all files. Measured with the scalar kernels only (layer shell plus
    /// scalar file): 19.3 KB for 16 x 64 x 1024 and 19.2 KB for 4 x 128 x 128 with projections, about 20 KB
    /// for every case below. The AVX-512, AVX2, 128-bit and Neon forward and backward kernels still to come
    /// may add ten times that; 400 KB leaves room for them while still failing on code unrolled over the
    /// sequence, which at these lengths would run to megabytes.
    /// </summary>
    private const long BudgetBytes = 400 * 1024;

    /// <summary>
    /// How much two layers that differ only in sequence length may differ in size: the constants are written
    /// with more digits (a few dozen of them), nothing else should change.
    /// </summary>
    private const long SeqLenSlackBytes = 2 * 1024;

    [Theory]
    [InlineData("[AttentionLayer(16, 64, 1024)]")]
    [InlineData("[AttentionLayer(4, 128, 128)]")]
    [InlineData("[AttentionLayer(4, 128, 128, Causal = true, KvHeads = 2)]")]
    [InlineData("[AttentionLayer(8, 64, 4096, KvSeqLen = 16384, Causal = true)]")]
    [InlineData("[AttentionLayer(16, 128, 2048, Scoring = AttentionScoring.Additive, Projections = false)]")]
    public void LayerStaysWithinTheBudget(string attribute)
    {
        long bytes = GeneratedBytes(attribute);
        output.WriteLine($"{attribute}: {bytes} bytes");

        Assert.True(bytes <= BudgetBytes, $"{attribute} generated {bytes} bytes, over the budget of {BudgetBytes}");
    }

    [Theory]
    [InlineData(4, 64, false)]
    [InlineData(8, 128, true)]
    [InlineData(2, 3, true)]
    public void SizeDoesNotGrowWithSequenceLength(int heads, int headDim, bool causal)
    {
        // Both lengths are long enough that no plan would keep a whole score row in registers.
        string Declaration(int seqLen) => $"[AttentionLayer({heads}, {headDim}, {seqLen}, Causal = {(causal ? "true" : "false")})]";
        long shorter = GeneratedBytes(Declaration(512));
        long longer = GeneratedBytes(Declaration(8192));
        output.WriteLine($"seqLen 512: {shorter} bytes, seqLen 8192: {longer} bytes");

        Assert.True(longer - shorter <= SeqLenSlackBytes,
            $"seqLen 8192 generated {longer} bytes against {shorter} for seqLen 512: code grows with the sequence length");
    }

    private static long GeneratedBytes(string attribute)
    {
        GeneratorRun run = GeneratorHarness.Generate($"using AttnGen; namespace Demo; {attribute} public partial class Layer;");
        Assert.Empty(run.GeneratorDiagnostics);
        return run.GeneratedBytes;
    }
}
