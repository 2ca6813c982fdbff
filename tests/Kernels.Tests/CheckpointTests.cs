namespace AttnGen.Kernels.Tests;

/// <summary>The generated Load and Save on real layers: a round trip changes nothing, a wrong file changes nothing.</summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("attngen-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [MemberData(nameof(ForwardTests.Layers), MemberType = typeof(ForwardTests))]
    public void SaveThenLoad_GivesTheSameParametersAndOutputs(string layerName)
    {
        using IAttentionLayer source = TestLayers.Create(layerName);
        using IAttentionLayer target = TestLayers.Create(layerName);
        TestData.RandomParameters(source, seed: 71);
        target.ResetParameters(seed: 5);
        string path = Path.Combine(_folder, "layer.safetensors");

        source.Save(path, prefix: "model.layers.3.attn.");
        target.Load(path, prefix: "model.layers.3.attn.");

        foreach (LayerParameter p in source.Parameters)
        {
            Assert.True(source.ParameterBlock.Slice(p.Offset, p.Length).SequenceEqual(target.ParameterBlock.Slice(p.Offset, p.Length)), p.Name);
        }
        TestData.Inputs x = TestData.For(source.Info, 2, seed: 3);
        var other = new float[x.Output.Length];
        source.Forward(x.Query, x.Key, x.Value, x.Output, 2);
        target.Forward(x.Query, x.Key, x.Value, other, 2);
        Assert.Equal(x.Output, other);
    }

    [Fact]
    public void LoadingAnotherLayersFile_Throws_AndKeepsTheWeightsTheKernelsUse()
    {
        using var other = new Cross_4x24_13over37();
        other.ResetParameters(1);
        string path = Path.Combine(_folder, "other.safetensors");
        other.Save(path);

        using var layer = new SelfProj_4x24x37_m80();
        TestData.RandomParameters(layer, seed: 73);
        float[] input = TestData.Uniform(SelfProj_4x24x37_m80.SeqLen * SelfProj_4x24x37_m80.ModelDim, 79);
        var before = new float[input.Length];
        var after = new float[input.Length];
        layer.Forward(input, before);
        float[] weights = layer.ParameterBlock.ToArray();

        var e = Assert.Throws<CheckpointMismatchException>(() => layer.Load(path));
        Assert.Contains("in_proj_weight", e.Message);
        Assert.Equal(weights, layer.ParameterBlock.ToArray());
        layer.Forward(input, after);
        Assert.Equal(before, after);
    }
}
