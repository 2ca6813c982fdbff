namespace AttnGen.Generator.Tests;

/// <summary>
/// Full unrolling belongs inside the register tile only: generated source must not grow with
/// the sequence length, and a layer must stay within a fixed size budget.
/// </summary>
public class SizeBudgetTests(ITestOutputHelper output)
{
    /// <summary>
    /// Total generated source per layer, all files (the shell, the scalar kernels and the three vector paths'
    /// kernels). The largest declaration here, the rotary grouped-query decoder with a key/value cache, generates
    /// 190.4 KB (186 KiB); the seven snapshot declarations together generate 766 KB (731 KB while the scalar path was
    /// plain loops rather than the register-tile template at width 1). Every register-tile kernel is emitted once per file however many
    /// products use it, and what does not vary between layers (the attention drivers, exp, tanh, the softmax row steps)
    /// lives in the runtime. Code unrolled over the sequence would run to megabytes at these lengths.
    /// The 128-bit path's two register files raised it from 192 KiB: the Arm64 by-lane loop (four reduction steps
    /// unrolled, the inner loops' fmla share from 47% to 77%) and the broadcast-only row passes x64's SSE takes
    /// (no accumulator spilled) bring that declaration to 216.5 KB (211.5 KiB), the seven together to 896 KB.
    /// 223.6 KB (218.4 KiB) since the backward shares a sequence among workers (the split argument and the column-block
    /// ranges of every projection backward, the synchronisation between its phases). 226.9 KB (221.6 KiB) since the
    /// projection backward's dW tiles run row tile by row tile over chunks of 128 rows of dY and X (the chunk loop of
    /// every projection on every path).
    /// </summary>
    private const long BudgetBytes = 222 * 1024;

    /// <summary>
    /// The kernel files (scalar and vector) of the seven snapshot declarations together: 683 KB (667 KiB) measured,
    /// from 1.72 MB before the kernels were rendered from one register-tile template around the runtime's drivers
    /// (648 KB before the scalar path became a profile of that template: its tiles and their remainders are 35 KB
    /// more than the plain loops were). 813 KB (794 KiB) since the 128-bit tiles got their Arm64 by-lane loop and
    /// their SSE row passes (see <see cref="BudgetBytes"/>). 825 KB (806 KiB) since the AVX-512 score tiles hand a key
    /// block's last vectors to a one-vector instance (a 6 x 16 kernel, and the last query tile's, per layer). 845 KB
    /// (826 KiB) since the backward shares a sequence among workers (see <see cref="BudgetBytes"/>). 856 KB (836 KiB)
    /// since the dW tiles' chunk loop (see <see cref="BudgetBytes"/>).
    /// </summary>
    private const long SnapshotKernelBudgetBytes = 840 * 1024;

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
    [InlineData("[AttentionLayer(32, 128, 4096, KvHeads = 8, Causal = true, Rotary = true, KvCache = true)]")]
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

    [Fact]
    public void SnapshotDeclarations_KernelFilesStayWithinTheBudget()
    {
        string[] declarations =
        [
            Layers.CausalSelfAttention, Layers.CrossAttention, Layers.GroupedQuery, Layers.MultiQueryDotProduct,
            Layers.AdditiveCore, Layers.ScaledCausalCross, Layers.KeywordNames,
        ];
        long kernels = 0, all = 0;
        foreach (string declaration in declarations)
        {
            GeneratorRun run = GeneratorHarness.Generate(declaration);
            Assert.Empty(run.GeneratorDiagnostics);
            foreach (GeneratedFile file in run.Files)
            {
                long bytes = System.Text.Encoding.UTF8.GetByteCount(file.Text);
                all += bytes;
                if (IsKernelFile(file.HintName))
                {
                    kernels += bytes;
                }
            }
        }
        output.WriteLine($"seven declarations: {all} bytes, of which {kernels} in kernel files");

        Assert.True(kernels > 0, "no kernel file recognised by its name");
        Assert.True(kernels <= SnapshotKernelBudgetBytes, $"kernel files of the seven declarations: {kernels} bytes, over the budget of {SnapshotKernelBudgetBytes}");
    }

    /// <summary>A per-path kernel file: <c>{type}.Scalar.g.cs</c>, <c>{type}.Avx512.g.cs</c> and so on.</summary>
    private static bool IsKernelFile(string hintName)
        => hintName.EndsWith(".Scalar.g.cs", System.StringComparison.Ordinal)
            || hintName.EndsWith(".Avx512.g.cs", System.StringComparison.Ordinal)
            || hintName.EndsWith(".Avx2.g.cs", System.StringComparison.Ordinal)
            || hintName.EndsWith(".Vector128.g.cs", System.StringComparison.Ordinal);

    private static long GeneratedBytes(string attribute)
    {
        GeneratorRun run = GeneratorHarness.Generate($"using AttnGen; namespace Demo; {attribute} public partial class Layer;");
        Assert.Empty(run.GeneratorDiagnostics);
        return run.GeneratedBytes;
    }
}
