namespace AttnGen.Training.Tests;

public class ClippingTests
{
    [Fact]
    public void Clips_all_gradients_together_to_the_max_norm_and_returns_the_old_norm()
    {
        using var a = new AlignedBuffer(2);
        using var ga = new AlignedBuffer(2);
        using var b = new AlignedBuffer(1);
        using var gb = new AlignedBuffer(1);
        var set = new ParameterSet().Add(new Parameter("a", a, ga, 2)).Add(new Parameter("b", b, gb, 1));
        float[] g = [3f, 4f];
        g.CopyTo(ga.Span);
        gb.Span[0] = 12f; // global norm sqrt(9 + 16 + 144) = 13

        float norm = GradientClipping.ClipByGlobalNorm(set, 6.5f);

        Assert.Equal(13f, norm, 5);
        Assert.Equal(6.5, set.GradientNorm(), 4);
        Assert.Equal(1.5f, ga.Span[0], 5); // direction kept: every entry halved
        Assert.Equal(6f, gb.Span[0], 5);
    }

    [Fact]
    public void Leaves_gradients_under_the_max_norm_alone()
    {
        using var a = new AlignedBuffer(2);
        using var ga = new AlignedBuffer(2);
        var set = new ParameterSet().Add(new Parameter("a", a, ga, 2));
        ga.Span[0] = 0.3f;
        ga.Span[1] = -0.4f;
        Assert.Equal(0.5f, GradientClipping.ClipByGlobalNorm(set, 1f), 6);
        Assert.Equal([0.3f, -0.4f], ga.Span.ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipByGlobalNorm(set, 0f));
    }
}
