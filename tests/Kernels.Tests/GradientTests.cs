namespace AttnGen.Kernels.Tests;

/// <summary>
/// Backward against central finite differences of the float64 reference, on every path this process can run:
/// for L = Σ R ∘ output with random R, the layer's input gradients and accumulated parameter gradients must
/// match (L(x + h) - L(x - h)) / 2h at sampled coordinates, padded and fully masked sequences included.
/// </summary>
public sealed class GradientTests
{
    private const double Tolerance = 2e-4;
    private const double Step = 1e-5;
    private const int Samples = 48;

    /// <summary>Every layer's backward on every path against the float64 reference (<see cref="SampledGradientCheck"/>).</summary>
    [Theory]
    [MemberData(nameof(ForwardTests.Layers), MemberType = typeof(ForwardTests))]
    public void Backward_MatchesFiniteDifferencesOfTheReference_OnEveryPath(string layerName)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        TestData.RandomParameters(layer, seed: 97);
        AttentionLayerInfo info = layer.Info;
        const int batch = 2;
        int[] valid = [Math.Max(1, info.KvSeqLen * 2 / 3), info.KvSeqLen == 1 ? 0 : info.KvSeqLen];
        TestData.Inputs x = TestData.For(info, batch, seed: 101);
        float[] r = TestData.Uniform(x.Output.Length, 103);

        SampledGradientCheck.OnEveryPath(layer, x, r, batch, valid,
            (block, q, k, v) => Reference.Forward(info, layer.Parameters, block, q, k, v, batch, valid),
            Step, Tolerance, Samples, seed: 107);
    }

    /// <summary>
    /// Backward runs on the default path, the widest this process supports: with ATTNGEN_EXPECT_ISA set by the
    /// test runner (instruction sets switched off, or Arm emulation) that is the one it names.
    /// </summary>
    [Fact]
    public void Backward_RunsOnTheExpectedPath()
    {
        string? expectedText = Environment.GetEnvironmentVariable("ATTNGEN_EXPECT_ISA");
        KernelIsa expected = expectedText is { Length: > 0 } ? Enum.Parse<KernelIsa>(expectedText) : KernelIsaSupport.Best;
        using var layer = new AdditiveCrossCausalGqa_4kv2x8_11over29();
        TestData.RandomParameters(layer, seed: 139);
        TestData.Inputs x = TestData.For(AdditiveCrossCausalGqa_4kv2x8_11over29.LayerInfo, 1, seed: 149);
        var dq = new float[x.Query.Length];
        var dk = new float[x.Key.Length];
        var dv = new float[x.Value.Length];

        layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, 1);
        layer.Backward(x.Output, dq, dk, dv, 1);

        Assert.Equal(expected, TestLayers.LastBackwardIsa(layer));
    }

    /// <summary>
    /// A sequence none of whose keys is valid gives exactly zero input gradients on every path (never NaN),
    /// next to a padded one in the same batch, on a causal layer with several key blocks and query tiles.
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void FullyMaskedSequence_GivesZeroInputGradients(KernelIsa isa)
    {
        using var layer = new LongCausal_1x64x200 { Isa = isa };
        TestData.RandomParameters(layer, seed: 151);
        TestData.Inputs x = TestData.For(LongCausal_1x64x200.LayerInfo, 2, seed: 157);
        float[] r = TestData.Uniform(x.Output.Length, 163);
        var dq = new float[x.Query.Length];
        var dk = new float[x.Key.Length];
        var dv = new float[x.Value.Length];

        layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, 2, [67, 0]);
        layer.Backward(r, dq, dk, dv, 2, [67, 0]);

        Assert.Equal(isa, TestLayers.LastBackwardIsa(layer));
        int half = dq.Length / 2;
        Assert.All(dq.AsSpan(half).ToArray(), g => Assert.Equal(0f, g));
        Assert.All(dk.AsSpan(half).ToArray(), g => Assert.Equal(0f, g));
        Assert.All(dv.AsSpan(half).ToArray(), g => Assert.Equal(0f, g));
        Assert.All(layer.GradientBlock.ToArray(), g => Assert.True(float.IsFinite(g)));
    }

    public static TheoryData<KernelIsa> Paths() => new(KernelIsaSupport.Supported);

    [Fact]
    public void BackwardWithoutForwardTrain_Throws()
    {
        using var layer = new Core_3x3x37();
        var g = new float[Core_3x3x37.SeqLen * Core_3x3x37.ModelDim];
        var e = Assert.Throws<InvalidOperationException>(() => layer.Backward(g, g, g, g, 1));
        Assert.Contains("ForwardTrain first", e.Message);
    }

    [Fact]
    public void ForwardTrain_GivesTheSameOutputAsForward()
    {
        using var layer = new GqaCausal_6kv2x16x33();
        TestData.RandomParameters(layer, seed: 109);
        float[] input = TestData.Uniform(3 * GqaCausal_6kv2x16x33.SeqLen * GqaCausal_6kv2x16x33.ModelDim, 113);
        var a = new float[input.Length];
        var b = new float[input.Length];
        layer.Forward(input, a, 3, [33, 5, 0]);
        layer.ForwardTrain(input, b, 3, [33, 5, 0]);
        Assert.Equal(a, b);
    }

    [Fact]
    public void SelfAttentionBackward_SumsTheThreeInputGradients()
    {
        using var layer = new SelfProj_4x24x37_m80();
        TestData.RandomParameters(layer, seed: 127);
        float[] input = TestData.Uniform(SelfProj_4x24x37_m80.SeqLen * SelfProj_4x24x37_m80.ModelDim, 131);
        float[] r = TestData.Uniform(input.Length, 137);
        var y = new float[input.Length];
        var dx = new float[input.Length];
        var dq = new float[input.Length];
        var dk = new float[input.Length];
        var dv = new float[input.Length];

        layer.ForwardTrain(input, y, 1);
        layer.Backward(r, dx, 1);
        layer.ForwardTrain(input, input, input, y, 1);
        layer.Backward(r, dq, dk, dv, 1);

        for (int i = 0; i < dx.Length; i++)
        {
            Assert.Equal(dq[i] + dk[i] + dv[i], dx[i], 1e-5f);
        }
    }
}
