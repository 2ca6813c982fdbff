namespace AttnGen.Kernels.Tests;

/// <summary>
/// Backward against central finite differences of the float64 reference: for L = Σ R ∘ output with random R,
/// the layer's input gradients and accumulated parameter gradients must match (L(x + h) - L(x - h)) / 2h at
/// sampled coordinates, padded and fully masked sequences included.
/// </summary>
public sealed class GradientTests
{
    private const double Tolerance = 2e-4;
    private const double Step = 1e-5;
    private const int Samples = 48;

    [Theory]
    [MemberData(nameof(ForwardTests.Layers), MemberType = typeof(ForwardTests))]
    public void Backward_MatchesFiniteDifferencesOfTheReference(string layerName)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
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
