namespace AttnGen.Kernels.Tests;

/// <summary>
/// Finite inputs give finite outputs on every path, however large the scores: queries and keys are scaled so that the
/// scaled scores reach about 1e6, 1e12, 1e18 and 1e32. Softmax is then close to one-hot at each row's largest score,
/// so the forward is still held to the float64 reference; the backward (probabilities recomputed from the saved row
/// log-sum-exp) must give finite gradients.
/// </summary>
public sealed class FiniteTests
{
    /// <summary>Looser than the forward tests' 1e-5: scores of 1e12 and more are rounded at 1e5 and beyond in float32.</summary>
    private const double Tolerance = 1e-3;

    private static readonly string[] LayerNames =
    [
        nameof(CoreCausal_2x64x130), nameof(CoreCrossGqa_4kv2x20_9over70), nameof(Core_3x3x37), nameof(EdgeAboveTile_2x17_9over65),
        nameof(Dot_2x24x19), nameof(Scaled_2x32x16), nameof(SelfCausal_2x80x37),
    ];

    /// <summary>Factors for the query and key inputs: scores grow with their square.</summary>
    private static readonly float[] InputScales = [1e3f, 1e6f, 1e9f, 1e16f];

    public static TheoryData<string, KernelIsa, float> Cases()
    {
        var data = new TheoryData<string, KernelIsa, float>();
        foreach (string layer in LayerNames)
        {
            foreach (KernelIsa isa in KernelIsaSupport.Supported)
            {
                foreach (float scale in InputScales)
                {
                    data.Add(layer, isa, scale);
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void HugeScores_GiveFiniteOutputs_CloseToTheReference(string layerName, KernelIsa isa, float inputScale)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        TestData.RandomParameters(layer, seed: 151);
        AttentionLayerInfo info = layer.Info;
        const int batch = 2;
        int[] valid = [info.KvSeqLen, Math.Max(1, info.KvSeqLen * 2 / 3 | 1)];
        TestData.Inputs x = Scaled(TestData.For(info, batch, seed: 157), inputScale);

        layer.Forward(x.Query, x.Key, x.Value, x.Output, batch, valid);

        AssertFinite(info, "output", x.Output);
        double[] expected = Reference.Forward(info, layer.Parameters, layer.ParameterBlock, x.Query, x.Key, x.Value, batch, valid);
        (double error, int at) = TestData.RelativeError(x.Output, expected);
        Assert.True(error <= Tolerance, $"{info.Name} on {isa}, inputs x{inputScale:E0}: relative error {error:E2} at {at}: got {x.Output[at]}, expected {expected[at]}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void HugeScores_GiveFiniteGradients(string layerName, KernelIsa isa, float inputScale)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        TestData.RandomParameters(layer, seed: 163);
        AttentionLayerInfo info = layer.Info;
        const int batch = 2;
        int[] valid = [info.KvSeqLen, Math.Max(1, info.KvSeqLen * 2 / 3 | 1)];
        TestData.Inputs x = Scaled(TestData.For(info, batch, seed: 167), inputScale);
        float[] dy = TestData.Uniform(x.Output.Length, 173);
        var dq = new float[x.Query.Length];
        var dk = new float[x.Key.Length];
        var dv = new float[x.Value.Length];
        layer.GradientBlock.Clear();

        layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, batch, valid);
        layer.Backward(dy, dq, dk, dv, batch, valid);

        Assert.Equal(isa, TestLayers.LastBackwardIsa(layer));
        AssertFinite(info, "output", x.Output);
        AssertFinite(info, "d/dquery", dq);
        AssertFinite(info, "d/dkey", dk);
        AssertFinite(info, "d/dvalue", dv);
        AssertFinite(info, "parameter gradients", layer.GradientBlock);
    }

    /// <summary>The inputs with queries and keys multiplied by <paramref name="factor"/> (values as they are).</summary>
    private static TestData.Inputs Scaled(TestData.Inputs x, float factor)
    {
        foreach (float[] a in new[] { x.Query, x.Key })
        {
            for (int i = 0; i < a.Length; i++)
            {
                a[i] *= factor;
            }
        }
        return x;
    }

    private static void AssertFinite(AttentionLayerInfo info, string what, ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            Assert.True(float.IsFinite(values[i]), $"{info.Name}: {what}[{i}] = {values[i]}");
        }
    }
}
