namespace AttnGen.Kernels.Tests;

// Lengths around the key blocks of every path (32 keys on 128-bit, 64 on AVX-512, AVX2 and the scalar path, score
// tiles of 4, 16 or 64 keys, scored on AVX-512 to the vector): 1, Bc - 1, Bc + 1 and 2·Bc + 3 for both block sizes, as causal self-attention (the diagonal
// block and the sequence's last block end inside a score tile; the last query tile is partial), and a cross-attention
// over 131 keys whose valid lengths run through the same boundaries at run time.

[AttentionLayer(heads: 2, headDim: 24, seqLen: 1, Projections = false, Causal = true)]
public partial class BoundaryCausal_S1;

[AttentionLayer(heads: 2, headDim: 24, seqLen: 31, Projections = false, Causal = true)]
public partial class BoundaryCausal_S31;

[AttentionLayer(heads: 2, headDim: 24, seqLen: 33, Projections = false, Causal = true)]
public partial class BoundaryCausal_S33;

[AttentionLayer(heads: 2, headDim: 16, seqLen: 63, Projections = false, Causal = true)]
public partial class BoundaryCausal_S63;

[AttentionLayer(heads: 2, headDim: 16, seqLen: 65, Projections = false, Causal = true)]
public partial class BoundaryCausal_S65;

[AttentionLayer(heads: 2, headDim: 24, seqLen: 67, Projections = false, Causal = true)]
public partial class BoundaryCausal_S67;

[AttentionLayer(heads: 2, headDim: 32, seqLen: 131, Projections = false, Causal = true)]
public partial class BoundaryCausal_S131;

[AttentionLayer(heads: 2, headDim: 24, seqLen: 7, KvSeqLen = 131, Projections = false)]
public partial class BoundaryCross_7over131;

/// <summary>
/// The boundary key block and the causal diagonal block, which the vector cores score only up to a tile's last visible
/// key rounded up to the score step (a vector on AVX-512, a score tile elsewhere): forward and backward on every path this process can run, against the float64
/// reference, with valid lengths 0, 1, Bc ± 1 and 2·Bc + 3 for Bc = 32 and 64 (those the layer's length allows).
/// </summary>
public sealed class BlockBoundaryTests
{
    /// <summary>The bound on max |error| / max |reference| (float32 kernels against float64).</summary>
    private const double Tolerance = 1e-5;

    private static readonly IReadOnlyDictionary<string, Func<IAttentionLayer>> Layers = new Dictionary<string, Func<IAttentionLayer>>
    {
        [nameof(BoundaryCausal_S1)] = () => new BoundaryCausal_S1(),
        [nameof(BoundaryCausal_S31)] = () => new BoundaryCausal_S31(),
        [nameof(BoundaryCausal_S33)] = () => new BoundaryCausal_S33(),
        [nameof(BoundaryCausal_S63)] = () => new BoundaryCausal_S63(),
        [nameof(BoundaryCausal_S65)] = () => new BoundaryCausal_S65(),
        [nameof(BoundaryCausal_S67)] = () => new BoundaryCausal_S67(),
        [nameof(BoundaryCausal_S131)] = () => new BoundaryCausal_S131(),
        [nameof(BoundaryCross_7over131)] = () => new BoundaryCross_7over131(),
    };

    public static TheoryData<string, KernelIsa> LayersAndPaths()
    {
        var data = new TheoryData<string, KernelIsa>();
        foreach (string layer in Layers.Keys)
        {
            foreach (KernelIsa isa in KernelIsaSupport.Supported)
            {
                data.Add(layer, isa);
            }
        }
        return data;
    }

    /// <summary>One sequence per valid length: the full length, 0, and each block boundary below it.</summary>
    private static int[] ValidLengths(int kvSeqLen)
    {
        var lengths = new List<int> { kvSeqLen, 0 };
        foreach (int bc in new[] { 32, 64 })
        {
            foreach (int length in new[] { 1, bc - 1, bc + 1, 2 * bc + 3 })
            {
                if (length < kvSeqLen && !lengths.Contains(length))
                {
                    lengths.Add(length);
                }
            }
        }
        return lengths.ToArray();
    }

    [Theory]
    [MemberData(nameof(LayersAndPaths))]
    public void Forward_AtBlockBoundaries_MatchesReference(string layerName, KernelIsa isa)
    {
        using IAttentionLayer layer = Layers[layerName]();
        layer.Isa = isa;
        AttentionLayerInfo info = layer.Info;
        TestData.RandomParameters(layer, seed: 211);
        int[] valid = ValidLengths(info.KvSeqLen);
        TestData.Inputs x = TestData.For(info, valid.Length, seed: 223);

        layer.Forward(x.Query, x.Key, x.Value, x.Output, valid.Length, valid);

        double[] expected = Reference.Forward(info, layer.Parameters, layer.ParameterBlock, x.Query, x.Key, x.Value, valid.Length, valid);
        AssertClose(info, "output", x.Output, expected, valid);
    }

    [Theory]
    [MemberData(nameof(LayersAndPaths))]
    public void Backward_AtBlockBoundaries_MatchesTheFloat64Backward(string layerName, KernelIsa isa)
    {
        using IAttentionLayer layer = Layers[layerName]();
        layer.Isa = isa;
        AttentionLayerInfo info = layer.Info;
        TestData.RandomParameters(layer, seed: 227);
        int[] valid = ValidLengths(info.KvSeqLen);
        TestData.Inputs x = TestData.For(info, valid.Length, seed: 229);
        float[] dy = TestData.Uniform(x.Output.Length, 233);
        var dq = new float[x.Query.Length];
        var dk = new float[x.Key.Length];
        var dv = new float[x.Value.Length];

        layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, valid.Length, valid);
        layer.Backward(dy, dq, dk, dv, valid.Length, valid);

        Reference.Gradients expected = Reference.Backward(info, layer.Parameters, layer.ParameterBlock, x.Query, x.Key, x.Value, dy, valid.Length, valid);
        AssertClose(info, "dq", dq, expected.Query, valid);
        AssertClose(info, "dk", dk, expected.Key, valid);
        AssertClose(info, "dv", dv, expected.Value, valid);
    }

    /// <summary>Each sequence on its own, so an error in a short one is measured against its own values.</summary>
    private static void AssertClose(AttentionLayerInfo info, string name, float[] actual, double[] expected, int[] valid)
    {
        int per = actual.Length / valid.Length;
        for (int b = 0; b < valid.Length; b++)
        {
            (double error, int index) = TestData.RelativeError(actual.AsSpan(b * per, per), expected.AsSpan(b * per, per).ToArray());
            Assert.True(error <= Tolerance,
                $"{info.Name} {name}, sequence {b} (valid length {valid[b]}): [{index}] = {(index >= 0 ? actual[b * per + index] : float.NaN)}, " +
                $"expected {(index >= 0 ? expected[b * per + index] : double.NaN)} (relative error {error:E2})");
        }
    }
}
