using AttnGen.Kernels.Tests;

namespace AttnGen.Decoding.Tests;

/// <summary>
/// The full-sequence Forward of rotary layers on every path this process can run, against the float64 reference
/// (<see cref="RotaryReference"/>): q and k turned by their row's position after the projections, before the scores.
/// </summary>
public sealed class RotaryForwardTests
{
    /// <summary>The bound on max |error| / max |reference| (float32 kernels against float64).</summary>
    private const double Tolerance = 1e-5;

    [Theory]
    [MemberData(nameof(RotaryLayers.NamesAndPaths), MemberType = typeof(RotaryLayers))]
    public void Forward_MatchesTheFloat64Reference_WithPaddedBatch(string layerName, KernelIsa isa)
    {
        using ISelfAttentionLayer layer = RotaryLayers.Create(layerName);
        layer.Isa = isa;
        AttentionLayerInfo info = layer.Info;
        Assert.True(info.Rotary);
        TestData.RandomParameters(layer, seed: 211);
        const int batch = 3;
        int[] valid = [info.SeqLen, Math.Max(1, info.SeqLen * 2 / 3 | 1), 0];
        float[] input = TestData.Uniform(batch * info.SeqLen * info.ModelDim, 223);
        var output = new float[input.Length];

        layer.Forward(input, output, batch, valid);

        double[] x = RotaryReference.ToDouble(input);
        double[] expected = RotaryReference.Forward(info, layer.Parameters, RotaryReference.ToDouble(layer.ParameterBlock), x, x, x, batch, valid);
        AssertClose(output, expected, $"{layerName} on {isa}");
    }

    [Theory]
    [MemberData(nameof(RotaryLayers.NamesAndPaths), MemberType = typeof(RotaryLayers))]
    public void Forward_SequencesSharedByTwoOrThreeThreads_GiveTheBitsOfOneThread(string layerName, KernelIsa isa)
    {
        using ISelfAttentionLayer layer = RotaryLayers.Create(layerName);
        layer.Isa = isa;
        TestData.RandomParameters(layer, seed: 227);
        TestData.AssertSharedSequencesGiveTheBitsOfOneThread(layer, seed: 229);
    }

    [Theory]
    [MemberData(nameof(RotaryLayers.NamesAndPaths), MemberType = typeof(RotaryLayers))]
    public void ForwardOfThreeInputs_MatchesTheFloat64Reference(string layerName, KernelIsa isa)
    {
        using ISelfAttentionLayer layer = RotaryLayers.Create(layerName);
        layer.Isa = isa;
        AttentionLayerInfo info = layer.Info;
        layer.ResetParameters(seed: 5);
        TestData.Inputs x = TestData.For(info, batch: 2, seed: 227);

        layer.Forward(x.Query, x.Key, x.Value, x.Output, 2);
        var trained = new float[x.Output.Length];
        layer.ForwardTrain(x.Query, x.Key, x.Value, trained, 2);

        double[] expected = RotaryReference.Forward(info, layer.Parameters, RotaryReference.ToDouble(layer.ParameterBlock),
            RotaryReference.ToDouble(x.Query), RotaryReference.ToDouble(x.Key), RotaryReference.ToDouble(x.Value), 2, null);
        AssertClose(x.Output, expected, $"{layerName} on {isa}");
        Assert.Equal(x.Output, trained);
    }

    /// <summary>
    /// What makes the layer rotary: its output differs from the same layer without rotation by far more than the
    /// tolerance, and it is unchanged (within the tolerance) when every position moves by the same offset, since a
    /// score depends on q and k only through the difference of their positions.
    /// </summary>
    [Theory]
    [MemberData(nameof(RotaryLayers.Names), MemberType = typeof(RotaryLayers))]
    public void Output_DependsOnRelativePositionsOnly(string layerName)
    {
        using ISelfAttentionLayer layer = RotaryLayers.Create(layerName);
        AttentionLayerInfo info = layer.Info;
        TestData.RandomParameters(layer, seed: 229);
        // Larger inputs than elsewhere: sharper scores, so positions matter more.
        float[] input = TestData.Uniform(info.SeqLen * info.ModelDim, 233, -3f, 3f);
        var output = new float[input.Length];
        layer.Forward(input, output, 1);

        double[] x = RotaryReference.ToDouble(input), block = RotaryReference.ToDouble(layer.ParameterBlock);
        double[] shifted = RotaryReference.Forward(info, layer.Parameters, block, x, x, x, 1, null, positionOffset: 37);
        double[] unrotated = RotaryReference.Forward(info, layer.Parameters, block, x, x, x, 1, null, rotate: false);
        AssertClose(output, shifted, $"{layerName} against positions 37..");
        (double error, _) = TestData.RelativeError(output, unrotated);
        Assert.True(error > 1000 * Tolerance, $"{layerName}: the output is within {error:E2} of the same layer without rotation");
    }

    private static void AssertClose(float[] actual, double[] expected, string what)
    {
        (double error, int at) = TestData.RelativeError(actual, expected);
        Assert.True(error <= Tolerance, $"{what}: relative error {error:E2} at [{at}]: {actual[at]} against {expected[at]}");
    }
}
