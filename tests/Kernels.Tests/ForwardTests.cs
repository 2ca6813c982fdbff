namespace AttnGen.Kernels.Tests;

/// <summary>Every layer, on every path this process can run, against the float64 reference.</summary>
public sealed class ForwardTests
{
    /// <summary>The bound on max |error| / max |reference| (float32 kernels against float64).</summary>
    private const double Tolerance = 1e-5;

    public static TheoryData<string, KernelIsa> LayersAndPaths()
    {
        var data = new TheoryData<string, KernelIsa>();
        foreach (string layer in TestLayers.All.Keys)
        {
            foreach (KernelIsa isa in KernelIsaSupport.Supported)
            {
                data.Add(layer, isa);
            }
        }
        return data;
    }

    public static TheoryData<string> Layers() => new(TestLayers.All.Keys);

    [Theory]
    [MemberData(nameof(LayersAndPaths))]
    public void Forward_MatchesReference_WithPaddedBatch(string layerName, KernelIsa isa)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        AttentionLayerInfo info = layer.Info;
        TestData.RandomParameters(layer, seed: 11);
        const int batch = 3;
        // Full length, a partial length (a prime, so blocks end mid-vector), and no valid key at all.
        int[] validLengths = [info.KvSeqLen, Math.Max(1, info.KvSeqLen * 2 / 3 | 1), 0];
        TestData.Inputs x = TestData.For(info, batch, seed: 5);

        layer.Forward(x.Query, x.Key, x.Value, x.Output, batch, validLengths);

        double[] expected = Reference.Forward(info, layer.Parameters, layer.ParameterBlock, x.Query, x.Key, x.Value, batch, validLengths);
        AssertClose(x.Output, expected, info);
    }

    [Theory]
    [MemberData(nameof(LayersAndPaths))]
    public void Forward_MatchesReference_WithoutValidLengths(string layerName, KernelIsa isa)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        AttentionLayerInfo info = layer.Info;
        TestData.RandomParameters(layer, seed: 23);
        TestData.Inputs x = TestData.For(info, batch: 2, seed: 7);

        layer.Forward(x.Query, x.Key, x.Value, x.Output, 2);

        double[] expected = Reference.Forward(info, layer.Parameters, layer.ParameterBlock, x.Query, x.Key, x.Value, 2, null);
        AssertClose(x.Output, expected, info);
    }

    [Theory]
    [MemberData(nameof(LayersAndPaths))]
    public void Forward_WithPyTorchInitialisation_MatchesReference(string layerName, KernelIsa isa)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        layer.ResetParameters(seed: 3);
        AttentionLayerInfo info = layer.Info;
        TestData.Inputs x = TestData.For(info, batch: 1, seed: 9);

        layer.Forward(x.Query, x.Key, x.Value, x.Output, 1);

        double[] expected = Reference.Forward(info, layer.Parameters, layer.ParameterBlock, x.Query, x.Key, x.Value, 1, null);
        AssertClose(x.Output, expected, info);
    }

    [Theory]
    [MemberData(nameof(Layers))]
    public void Forward_IsBitIdentical_AcrossCallsAndThreadCounts(string layerName)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        TestData.RandomParameters(layer, seed: 31);
        AttentionLayerInfo info = layer.Info;
        const int batch = 5;
        TestData.Inputs x = TestData.For(info, batch, seed: 13);
        int[] validLengths = [info.KvSeqLen, 1, info.KvSeqLen / 2, 0, info.KvSeqLen];

        layer.MaxDegreeOfParallelism = 1;
        layer.Forward(x.Query, x.Key, x.Value, x.Output, batch, validLengths);
        float[] first = (float[])x.Output.Clone();
        foreach (int threads in new[] { 1, 2, 3, 8 })
        {
            layer.MaxDegreeOfParallelism = threads;
            Array.Clear(x.Output);
            layer.Forward(x.Query, x.Key, x.Value, x.Output, batch, validLengths);
            Assert.True(first.AsSpan().SequenceEqual(x.Output), $"output differs with {threads} threads");
        }
    }

    [Theory]
    [MemberData(nameof(LayersAndPaths))]
    public void Forward_SequencesSharedByTwoOrThreeThreads_GiveTheBitsOfOneThread(string layerName, KernelIsa isa)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        TestData.RandomParameters(layer, seed: 59);
        TestData.AssertSharedSequencesGiveTheBitsOfOneThread(layer, seed: 61);
    }

    [Theory]
    [MemberData(nameof(Layers))]
    public void Forward_ASequenceGivesTheSameBits_AloneOrInABatch(string layerName)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        TestData.RandomParameters(layer, seed: 37);
        AttentionLayerInfo info = layer.Info;
        TestData.Inputs x = TestData.For(info, batch: 3, seed: 17);
        layer.Forward(x.Query, x.Key, x.Value, x.Output, 3);

        int q = info.SeqLen * info.QueryInputWidth, kv = info.KvSeqLen * info.KvInputWidth, o = info.SeqLen * info.ModelDim;
        var single = new float[o];
        layer.Forward(x.Query.AsSpan(2 * q, q), x.Key.AsSpan(2 * kv, kv), x.Value.AsSpan(2 * kv, kv), single, 1);
        Assert.True(single.AsSpan().SequenceEqual(x.Output.AsSpan(2 * o, o)));
    }

    [Fact]
    public void SelfAttentionOverload_EqualsQueryKeyValueForm()
    {
        using var layer = new GqaCausal_6kv2x16x33();
        TestData.RandomParameters(layer, seed: 41);
        float[] input = TestData.Uniform(2 * GqaCausal_6kv2x16x33.SeqLen * GqaCausal_6kv2x16x33.ModelDim, 43);
        var viaSelf = new float[input.Length];
        var viaQkv = new float[input.Length];
        int[] valid = [33, 20];

        layer.Forward(input, viaSelf, 2, valid);
        layer.Forward(input, input, input, viaQkv, 2, valid);

        Assert.Equal(viaQkv, viaSelf);
    }

    [Fact]
    public void FullyMaskedRows_GiveTheOutputBias_NotNaN()
    {
        using var layer = new SelfCausal_2x80x37();
        TestData.RandomParameters(layer, seed: 47);
        float[] input = TestData.Uniform(SelfCausal_2x80x37.SeqLen * SelfCausal_2x80x37.ModelDim, 53);
        var output = new float[input.Length];

        layer.Forward(input, output, 1, [0]);

        float[] bias = layer.OutProjBias.ToArray();
        for (int row = 0; row < SelfCausal_2x80x37.SeqLen; row++)
        {
            Assert.Equal(bias, output.AsSpan(row * SelfCausal_2x80x37.ModelDim, SelfCausal_2x80x37.ModelDim).ToArray());
        }
    }

    [Fact]
    public void WeightsWrittenThroughAKeptSpan_AreSeenAfterParametersChanged()
    {
        using var layer = new SelfProj_4x24x37_m80();
        TestData.RandomParameters(layer, seed: 59);
        Span<float> kept = layer.ParameterBlock;
        float[] input = TestData.Uniform(SelfProj_4x24x37_m80.SeqLen * SelfProj_4x24x37_m80.ModelDim, 61);
        var before = new float[input.Length];
        var after = new float[input.Length];
        layer.Forward(input, before);

        kept.Slice(0, 50).Fill(0.7f); // rows of in_proj_weight, written through a span from before the call
        layer.ParametersChanged();
        layer.Forward(input, after);

        double[] expected = Reference.Forward(SelfProj_4x24x37_m80.LayerInfo, SelfProj_4x24x37_m80.ParameterList, layer.ParameterBlock, input, input, input, 1, null);
        AssertClose(after, expected, SelfProj_4x24x37_m80.LayerInfo);
        Assert.False(before.AsSpan().SequenceEqual(after));
    }

    private static void AssertClose(ReadOnlySpan<float> actual, double[] expected, AttentionLayerInfo info)
    {
        (double error, int at) = TestData.RelativeError(actual, expected);
        int row = at / info.ModelDim, column = at % info.ModelDim;
        Assert.True(error <= Tolerance,
            $"{info.Name}: relative error {error:E2} > {Tolerance:E0} at flat index {at} (row {row}, column {column}): got {actual[at]}, expected {expected[at]}");
    }
}
