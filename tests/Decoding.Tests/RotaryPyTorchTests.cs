using System.Text.Json;

namespace AttnGen.Decoding.Tests;

[AttentionLayer(heads: 4, headDim: 8, seqLen: 11, KvHeads = 2, Causal = true, Rotary = true)]
public partial class RotaryTorchGqa_4kv2x8x11;

[AttentionLayer(heads: 2, headDim: 6, seqLen: 7, Rotary = true, RotaryBase = 100)]
public partial class RotaryTorchMha_2x6x7;

/// <summary>
/// Rotary layers against PyTorch: Fixtures/rotary_pytorch.json holds parameters, an input, the output and the
/// autograd gradients computed by Fixtures/make_rotary_fixtures.py (rotate-half rotation as Hugging Face Llama
/// computes it, in float32). Every path this process can run must reproduce them.
/// </summary>
public sealed class RotaryPyTorchTests
{
    private const double OutputTolerance = 2e-5;
    private const double GradientTolerance = 1e-4;

    public static TheoryData<string, KernelIsa> CasesAndPaths()
    {
        var data = new TheoryData<string, KernelIsa>();
        foreach (string name in new[] { "gqa_causal", "mha_base100" })
        {
            foreach (KernelIsa isa in KernelIsaSupport.Supported)
            {
                data.Add(name, isa);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CasesAndPaths))]
    public void ForwardAndBackward_MatchPyTorch(string caseName, KernelIsa isa)
    {
        JsonElement fixture = Case(caseName);
        using ISelfAttentionLayer layer = caseName == "gqa_causal" ? new RotaryTorchGqa_4kv2x8x11() : new RotaryTorchMha_2x6x7();
        layer.Isa = isa;
        AttentionLayerInfo info = layer.Info;
        Assert.Equal(fixture.GetProperty("heads").GetInt32(), info.Heads);
        Assert.Equal(fixture.GetProperty("kvHeads").GetInt32(), info.KvHeads);
        Assert.Equal(fixture.GetProperty("headDim").GetInt32(), info.HeadDim);
        Assert.Equal(fixture.GetProperty("seqLen").GetInt32(), info.SeqLen);
        Assert.Equal(fixture.GetProperty("causal").GetBoolean(), info.Causal);
        Assert.Equal(fixture.GetProperty("rotaryBase").GetDouble(), info.RotaryBase);
        JsonElement parameters = fixture.GetProperty("parameters");
        foreach (LayerParameter p in layer.Parameters)
        {
            float[] values = Floats(parameters.GetProperty(p.Name));
            Assert.Equal(p.Length, values.Length);
            values.CopyTo(layer.GetParameter(p.Name));
        }
        float[] input = Floats(fixture.GetProperty("input"));
        float[] outputGrad = Floats(fixture.GetProperty("outputGrad"));
        var output = new float[input.Length];

        layer.Forward(input, output, 1);
        AssertClose(output, Floats(fixture.GetProperty("output")), OutputTolerance, $"{caseName} on {isa}: output");

        var inputGrad = new float[input.Length];
        layer.ZeroGradients();
        layer.ForwardTrain(input, output, 1);
        layer.Backward(outputGrad, inputGrad, 1);
        Assert.Equal(isa, ((IKernelPathReport)layer).LastBackwardIsa);
        AssertClose(inputGrad, Floats(fixture.GetProperty("inputGrad")), GradientTolerance, $"{caseName} on {isa}: input gradient");
        JsonElement parameterGrads = fixture.GetProperty("parameterGrads");
        foreach (LayerParameter p in layer.Parameters)
        {
            float[] actual = layer.GradientBlock.Slice(p.Offset, p.Length).ToArray();
            AssertClose(actual, Floats(parameterGrads.GetProperty(p.Name)), GradientTolerance, $"{caseName} on {isa}: gradient of {p.Name}");
        }
    }

    private static JsonElement Case(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "rotary_pytorch.json");
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(path));
        foreach (JsonElement c in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            if (c.GetProperty("name").GetString() == name)
            {
                return c.Clone();
            }
        }
        throw new InvalidOperationException($"{path} has no case '{name}'");
    }

    private static float[] Floats(JsonElement array) => array.EnumerateArray().Select(e => e.GetSingle()).ToArray();

    /// <summary>Asserts max |actual − expected| ≤ tolerance · max |expected|.</summary>
    private static void AssertClose(float[] actual, float[] expected, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 1e-6;
        foreach (float e in expected)
        {
            scale = Math.Max(scale, Math.Abs(e));
        }
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]) / scale;
            Assert.True(error <= tolerance, $"{what}[{i}] = {actual[i]}, PyTorch {expected[i]} (relative error {error:E2})");
        }
    }
}
