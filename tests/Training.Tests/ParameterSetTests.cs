namespace AttnGen.Training.Tests;

public class ParameterSetTests
{
    [Fact]
    public void Prefixes_names_and_rejects_duplicates()
    {
        using var linear = new Linear(3, 2);
        using var norm = new LayerNorm(2);
        var set = new ParameterSet().Add("fc.", linear.Parameters).Add("norm.", norm.Parameters);
        Assert.Equal(["fc.weight", "fc.bias", "norm.weight", "norm.bias"], set.Select(p => p.Name));
        Assert.Equal(6 + 2 + 2 + 2, set.ElementCount);
        Assert.Equal("[2, 3]", set["fc.weight"].ShapeText);
        Assert.Throws<ArgumentException>(() => set.Add("fc.", linear.Parameters));
        Assert.Throws<KeyNotFoundException>(() => set["nope"]);

        set["fc.weight"].Value[0] = 5f; // same memory as the layer
        Assert.Equal(5f, linear.Weight[0]);
    }

    [Fact]
    public void AddBlock_slices_a_layer_block_by_its_layout()
    {
        using var block = new AlignedBuffer(SyntheticAttention.ParameterCount);
        using var gradients = new AlignedBuffer(SyntheticAttention.ParameterCount);
        var set = new ParameterSet().AddBlock("attn.", SyntheticAttention.ParameterList, () => block.Span, () => gradients.Span);
        Assert.Equal(["attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias"], set.Select(p => p.Name));
        LayerParameter outBias = SyntheticAttention.ParameterList[3];
        set["attn.out_proj.bias"].Gradient[1] = 7f;
        Assert.Equal(7f, gradients.Span[outBias.Offset + 1]);
        set.ZeroGradients();
        Assert.Equal(0f, gradients.Span[outBias.Offset + 1]);
    }

    [Fact]
    public void A_source_of_the_wrong_length_is_rejected()
    {
        using var value = new AlignedBuffer(4);
        using var gradient = new AlignedBuffer(3);
        var e = Assert.Throws<ArgumentException>(() => new Parameter("w", value, gradient, 2, 2));
        Assert.Contains("gradient has 3", e.Message);
    }
}
