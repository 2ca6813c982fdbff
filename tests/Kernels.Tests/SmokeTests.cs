namespace AttnGen.Kernels.Tests;

[AttentionLayer(heads: 2, headDim: 4, seqLen: 3)]
public partial class SmokeLayer;

public class SmokeTests
{
    [Fact]
    public void Runs()
    {
        using var layer = new SmokeLayer();
        layer.ResetParameters(1);
        var x = new float[3 * 8];
        var y = new float[3 * 8];
        layer.Forward(x, y);
        Assert.Equal(3 * 8, y.Length);
    }
}
