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

    [Theory]
    [MemberData(nameof(ForwardTests.LayersAndPaths), MemberType = typeof(ForwardTests))]
    public void Backward_MatchesFiniteDifferencesOfTheReference(string layerName, KernelIsa isa)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        TestData.RandomParameters(layer, seed: 97);
        AttentionLayerInfo info = layer.Info;
        const int batch = 2;
        int[] valid = [Math.Max(1, info.KvSeqLen * 2 / 3), info.KvSeqLen == 1 ? 0 : info.KvSeqLen];
        TestData.Inputs x = TestData.For(info, batch, seed: 101);
        float[] r = TestData.Uniform(x.Output.Length, 103);
        var dq = new float[x.Query.Length];
        var dk = new float[x.Key.Length];
        var dv = new float[x.Value.Length];

        layer.ZeroGradients();
        layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, batch, valid);
        layer.Backward(r, dq, dk, dv, batch, valid);
        Assert.Equal(isa, TestLayers.LastBackwardIsa(layer));
        float[] dParams = layer.GradientBlock.ToArray();

        double[] block = Reference.ToDouble(layer.ParameterBlock);
        double[] q = Reference.ToDouble(x.Query), k = Reference.ToDouble(x.Key), v = Reference.ToDouble(x.Value);
        double Loss()
        {
            double[] y = Reference.Forward(info, layer.Parameters, block, q, k, v, batch, valid);
            double sum = 0;
            for (int i = 0; i < y.Length; i++) sum += r[i] * y[i];
            return sum;
        }
        double Difference(double[] target, int index)
        {
            double saved = target[index];
            target[index] = saved + Step;
            double plus = Loss();
            target[index] = saved - Step;
            double minus = Loss();
            target[index] = saved;
            return (plus - minus) / (2 * Step);
        }

        var random = new Random(107);
        var checks = new List<(string Name, double[] Target, float[] Gradient, int[] Indices)>
        {
            ("query", q, dq, Indices(dq.Length)),
            ("key", k, dk, Indices(dk.Length)),
            ("value", v, dv, Indices(dv.Length)),
        };
        foreach (LayerParameter p in layer.Parameters)
        {
            checks.Add((p.Name, block, dParams, Indices(p.Length).Select(i => p.Offset + i).ToArray()));
        }

        foreach (var (name, target, gradient, indices) in checks)
        {
            double scale = 1e-3;
            foreach (float g in gradient) scale = Math.Max(scale, Math.Abs(g));
            foreach (int index in indices)
            {
                double expected = Difference(target, index);
                double error = Math.Abs(gradient[index] - expected) / scale;
                Assert.True(error <= Tolerance,
                    $"{info.Name}: d/d{name}[{index}] = {gradient[index]}, finite difference {expected} (relative error {error:E2})");
            }
        }

        int[] Indices(int length) => Enumerable.Range(0, Math.Min(Samples, length)).Select(_ => random.Next(length)).ToArray();
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

        Assert.Equal(expected, layer.LastBackwardIsa);
    }

    /// <summary>
    /// Every path gives the same gradients up to float rounding on a long causal layer with several key
    /// blocks and query tiles, including a sequence whose rows see no key at all (zero gradients, never NaN).
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public void Backward_AgreesWithTheScalarPath_AndFullyMaskedRowsGiveZeros(KernelIsa isa)
    {
        using var layer = new LongCausal_1x64x200();
        TestData.RandomParameters(layer, seed: 151);
        const int batch = 3;
        int[] valid = [200, 67, 0];
        TestData.Inputs x = TestData.For(LongCausal_1x64x200.LayerInfo, batch, seed: 157);
        float[] r = TestData.Uniform(x.Output.Length, 163);
        (float[] Dq, float[] Dk, float[] Dv, float[] Dp) Run(KernelIsa path)
        {
            layer.Isa = path;
            layer.ZeroGradients();
            var dq = new float[x.Query.Length];
            var dk = new float[x.Key.Length];
            var dv = new float[x.Value.Length];
            layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, batch, valid);
            layer.Backward(r, dq, dk, dv, batch, valid);
            Assert.Equal(path, layer.LastBackwardIsa);
            return (dq, dk, dv, layer.GradientBlock.ToArray());
        }

        var expected = Run(KernelIsa.Scalar);
        var actual = Run(isa);

        foreach (var (name, a, e) in new[] { ("query", actual.Dq, expected.Dq), ("key", actual.Dk, expected.Dk), ("value", actual.Dv, expected.Dv), ("parameters", actual.Dp, expected.Dp) })
        {
            Assert.All(a, g => Assert.True(float.IsFinite(g), $"{name}: non-finite gradient"));
            double scale = 1e-6, worst = 0;
            for (int i = 0; i < e.Length; i++)
            {
                scale = Math.Max(scale, Math.Abs(e[i]));
                worst = Math.Max(worst, Math.Abs(a[i] - e[i]));
            }
            Assert.True(worst / scale <= 1e-5, $"{name}: {isa} differs from scalar by {worst / scale:E2} relative");
        }
        // The third sequence has no valid key: its key and value gradients are exactly zero.
        int kv = LongCausal_1x64x200.KvSeqLen * LongCausal_1x64x200.ModelDim;
        Assert.All(actual.Dk.AsSpan(2 * kv, kv).ToArray(), g => Assert.Equal(0f, g));
        Assert.All(actual.Dv.AsSpan(2 * kv, kv).ToArray(), g => Assert.Equal(0f, g));
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
