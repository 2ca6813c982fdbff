using AttnGen.Kernels.Tests;

namespace AttnGen.Decoding.Tests;

/// <summary>
/// ForwardTrain/Backward of rotary layers against central finite differences of the float64 reference
/// (<see cref="RotaryReference"/>), on every path this process can run: for L = Σ R ∘ output with random R, the
/// gradients of the query, key and value inputs and of every parameter, at sampled coordinates, padded sequences
/// included. The gradients of the rotated q and k must be turned back before the projections' backward.
/// </summary>
public sealed class RotaryGradientTests
{
    private const double Tolerance = 2e-4;
    private const double Step = 1e-5;
    private const int Samples = 40;

    [Theory]
    [InlineData(nameof(RotaryMha_3x6x13))]
    [InlineData(nameof(RotaryGqa_4kv2x32x19))]
    [InlineData(nameof(RotaryDot_2x32x9_m40))]
    [InlineData(nameof(RotaryGqa_6kv3x6x7))]
    public void Backward_MatchesFiniteDifferencesOfTheReference_OnEveryPath(string layerName)
    {
        using ISelfAttentionLayer layer = RotaryLayers.Create(layerName);
        TestData.RandomParameters(layer, seed: 239);
        AttentionLayerInfo info = layer.Info;
        const int batch = 2;
        int[] valid = [info.SeqLen, Math.Max(1, info.SeqLen * 2 / 3)];
        TestData.Inputs x = TestData.For(info, batch, seed: 241);
        float[] r = TestData.Uniform(x.Output.Length, 251);

        SampledGradientCheck.OnEveryPath(layer, x, r, batch, valid,
            (block, q, k, v) => RotaryReference.Forward(info, layer.Parameters, block, q, k, v, batch, valid),
            Step, Tolerance, Samples, seed: 257);
    }
}
