using System.Text.RegularExpressions;

namespace AttnGen.Generator.Tests;

/// <summary>
/// The 128-bit path's two register files over the planner's shape matrix, read from the generated kernels: every
/// register tile fits Arm64's 32 q registers in its by-lane loop (accumulators, one A vector per row or per four rows
/// of a transposed tile, B's vectors of one step), and every broadcast loop that runs on x64 without AVX2 fits its 16
/// xmm registers (accumulators, B's vectors, the broadcast, the product temporary, the tail mask); a tile too large
/// for that hands its rows to broadcast-only pass kernels. The register counts are recomputed here from the kernel
/// names, not taken from the generator.
/// </summary>
public class Vector128TileTests
{
    private const int NeonRegisters = 32, SseRegisters = 16;

    private static readonly Regex Kernel = new(@"private static unsafe void ((gemm|gemm_scaled|gemm_tn|additive)_(\d+)x(\d+)\w*__(v128|sse))\(", RegexOptions.Compiled);

    public static TheoryData<int, int, int, int, int, int, bool, bool> Shapes() => PlannerTests.Shapes();

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TilesFitBothRegisterFiles(int heads, int kvHeads, int headDim, int seqLen, int kvSeqLen, int scoring, bool causal, bool projections)
    {
        string scoringName = scoring switch { 0 => "ScaledDotProduct", 1 => "DotProduct", _ => "Additive" };
        string declaration = $"using AttnGen; namespace Demo; [AttentionLayer({heads}, {headDim}, {seqLen}, KvHeads = {kvHeads}, KvSeqLen = {kvSeqLen}, " +
            $"Scoring = AttentionScoring.{scoringName}, Causal = {(causal ? "true" : "false")}, Projections = {(projections ? "true" : "false")})] public partial class Layer;";
        GeneratorRun run = GeneratorHarness.Generate(declaration);
        string text = Assert.Single(run.Files, f => f.HintName.EndsWith(".Vector128.g.cs", StringComparison.Ordinal)).Text;

        var bodies = Bodies(text);
        Assert.NotEmpty(bodies);
        foreach ((string name, (string op, int rows, int vectors, bool tail, bool pass, string body)) in bodies)
        {
            int broadcast = rows * vectors + vectors + 2 + (tail ? 1 : 0);
            if (pass)
            {
                Assert.True(broadcast <= SseRegisters, $"{name}: a row pass needs {broadcast} registers");
                Assert.DoesNotContain("MultiplyAddByLane", body, StringComparison.Ordinal);
                continue;
            }
            if (op == "additive")
            {
                Assert.DoesNotContain("MultiplyAddByLane", body, StringComparison.Ordinal);
                continue;
            }
            bool transposed = op == "gemm_tn";
            if (!transposed || rows % 4 == 0)
            {
                int aVectors = transposed ? rows / 4 : rows;
                int byLane = rows * vectors + aVectors + vectors + (tail ? 1 : 0);
                Assert.True(byLane <= NeonRegisters, $"{name}: the by-lane loop needs {byLane} registers");
                // Transposed: lanes 0-3 of A[t, r..r+3] across four rows. Row-major: the four lanes of row 0's A vector,
                // once the reduction has four steps (a constant one shorter than that is all broadcast).
                Match depth = Regex.Match(name, @"_k(\d+)");
                bool fourSteps = transposed || !depth.Success || int.Parse(depth.Groups[1].Value) >= 4;
                for (int lane = 0; lane < 4; lane++)
                {
                    Assert.Equal(fourSteps, body.Contains($"AgOps.MultiplyAddByLane(a0, {lane}, ", StringComparison.Ordinal));
                }
            }
            bool passes = body.Contains("if (!AgOps.HasMultiplyAddByLane)", StringComparison.Ordinal);
            Assert.Equal(broadcast > SseRegisters, passes);
            if (passes)
            {
                // The passes cover the tile's rows: their row counts add up to it (transposed: one divides it).
                var called = Regex.Matches(body, @"\b(gemm\w*?)_(\d+)x\d+\w*__sse\(").Select(m => int.Parse(m.Groups[2].Value)).ToList();
                Assert.NotEmpty(called);
                if (transposed)
                {
                    Assert.Equal(0, rows % Assert.Single(called));
                }
                else
                {
                    Assert.Equal(rows, called.Sum());
                }
                Assert.All(called, r => Assert.True(r * vectors + vectors + 2 + (tail ? 1 : 0) <= SseRegisters));
            }
        }
    }

    /// <summary>Each register-tile kernel of the file: its op, rows, vectors, whether its last vector is partial, whether it is a row pass, its text.</summary>
    private static Dictionary<string, (string Op, int Rows, int Vectors, bool Tail, bool Pass, string Body)> Bodies(string text)
    {
        var result = new Dictionary<string, (string, int, int, bool, bool, string)>();
        MatchCollection matches = Kernel.Matches(text);
        for (int i = 0; i < matches.Count; i++)
        {
            Match m = matches[i];
            int end = i + 1 < matches.Count ? matches[i + 1].Index : text.Length;
            int columns = int.Parse(m.Groups[4].Value);
            result[m.Groups[1].Value] = (m.Groups[2].Value, int.Parse(m.Groups[3].Value), (columns + 3) / 4, columns % 4 != 0,
                m.Groups[5].Value == "sse", text.Substring(m.Index, end - m.Index));
        }
        return result;
    }
}
