namespace AttnGen.Kernels.Tests;

/// <summary>
/// Every element of every gradient, on every path this process can run, against the analytic float64 backward
/// (<see cref="Reference.Backward"/>). The Edge* layers put the
/// projection GEMMs' rows (sequence lengths, projection widths) and columns (ModelDim, Heads·HeadDim) below, on and
/// above each path's register tile and vector width, so the row and column remainder tiles, the overlapping last
/// vector and the narrower-than-a-vector loops all run here.
/// </summary>
public sealed class BackwardTests
{
    /// <summary>The bound on max |error| / max |reference| per gradient (float32 kernels against float64).</summary>
    private const double Tolerance = 1e-5;

    [Theory]
    [MemberData(nameof(ForwardTests.LayersAndPaths), MemberType = typeof(ForwardTests))]
    public void Backward_MatchesTheFloat64Backward_AndAccumulates(string layerName, KernelIsa isa)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        TestData.RandomParameters(layer, seed: 131);
        AttentionLayerInfo info = layer.Info;
        const int batch = 3;
        int[] valid = [info.KvSeqLen, Math.Max(1, info.KvSeqLen * 2 / 3 | 1), 0];
        TestData.Inputs x = TestData.For(info, batch, seed: 137);
        float[] dy = TestData.Uniform(x.Output.Length, 139);
        var dq = new float[x.Query.Length];
        var dk = new float[x.Key.Length];
        var dv = new float[x.Value.Length];
        // Gradients accumulate: start from non-zero values and subtract them afterwards.
        float[] before = TestData.Uniform(layer.GradientBlock.Length, 149);
        before.CopyTo(layer.GradientBlock);

        layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, batch, valid);
        layer.Backward(dy, dq, dk, dv, batch, valid);

        Reference.Gradients expected = Reference.Backward(info, layer.Parameters, layer.ParameterBlock, x.Query, x.Key, x.Value, dy, batch, valid);
        float[] added = layer.GradientBlock.ToArray();
        for (int i = 0; i < added.Length; i++)
        {
            added[i] -= before[i];
        }
        AssertClose(info, "query", dq, expected.Query);
        AssertClose(info, "key", dk, expected.Key);
        AssertClose(info, "value", dv, expected.Value);
        foreach (LayerParameter p in layer.Parameters)
        {
            AssertClose(info, p.Name, added.AsSpan(p.Offset, p.Length), expected.Parameters.AsSpan(p.Offset, p.Length).ToArray());
        }
    }

    private static void AssertClose(AttentionLayerInfo info, string name, ReadOnlySpan<float> actual, double[] expected)
    {
        (double error, int index) = TestData.RelativeError(actual, expected);
        Assert.True(error <= Tolerance,
            $"{info.Name}: d/d{name}[{index}] = {(index >= 0 ? actual[index] : float.NaN)}, expected {(index >= 0 ? expected[index] : double.NaN)} (relative error {error:E2})");
    }
}
