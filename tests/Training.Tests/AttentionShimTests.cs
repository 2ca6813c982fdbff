using TextClassification.Model;
using static AttnGen.Training.Tests.GradientCheck;

namespace AttnGen.Training.Tests;

/// <summary>Small enough for finite differences over every input and parameter; ModelDim differs from Heads*HeadDim on purpose.</summary>
[AttentionLayer(heads: 2, headDim: 4, seqLen: 5, ModelDim = 6)]
public partial class ShimCheckAttention;

public class AttentionShimTests
{
    private const int Batch = 3;
    private static readonly int[] Valid = [5, 3, 0];

    private static TemporaryAttentionTrainingShim Create(ulong seed)
    {
        var layer = new ShimCheckAttention();
        layer.ResetParameters(seed);
        // Non-zero biases, so their gradients are exercised through non-trivial activations.
        new SeededRandom(seed + 1).FillUniform(layer.InProjBias, -0.3f, 0.3f);
        new SeededRandom(seed + 2).FillUniform(layer.OutProjBias, -0.3f, 0.3f);
        return new TemporaryAttentionTrainingShim(layer, () => layer.ParameterBlock, layer.Forward, ShimCheckAttention.ParameterList,
            ShimCheckAttention.Heads, ShimCheckAttention.HeadDim, ShimCheckAttention.SeqLen, ShimCheckAttention.ModelDim, ShimCheckAttention.ScoreScale);
    }

    private static double[] Reference(double[] x, double[] block) => References.Attention(x, block, ShimCheckAttention.ParameterList,
        Batch, ShimCheckAttention.SeqLen, ShimCheckAttention.ModelDim, ShimCheckAttention.Heads, ShimCheckAttention.HeadDim,
        1.0 / Math.Sqrt(ShimCheckAttention.HeadDim), Valid);

    [Fact]
    public void ForwardTrain_matches_the_generated_forward_and_the_float64_reference()
    {
        using TemporaryAttentionTrainingShim shim = Create(3);
        float[] x = Random(Batch * ShimCheckAttention.SeqLen * ShimCheckAttention.ModelDim, 4, 2f);
        var trained = new float[x.Length];
        var generated = new float[x.Length];
        shim.ForwardTrain(x, trained, Batch, Valid);
        shim.Forward(x, generated, Batch, Valid);
        AssertClose(trained, ToDouble(generated), "ForwardTrain vs generated Forward", 1e-5);
        AssertClose(trained, Reference(ToDouble(x), ToDouble(shim.ParameterBlock)), "ForwardTrain vs float64", 1e-5);
    }

    [Fact]
    public void Backward_matches_finite_differences_for_input_and_every_parameter()
    {
        using TemporaryAttentionTrainingShim shim = Create(5);
        float[] x = Random(Batch * ShimCheckAttention.SeqLen * ShimCheckAttention.ModelDim, 6, 2f);
        float[] r = Random(x.Length, 7);
        var y = new float[x.Length];
        var dx = new float[x.Length];
        shim.ZeroGradients();
        shim.ForwardTrain(x, y, Batch, Valid);
        shim.Backward(r, dx, Batch, Valid);

        double[] rd = ToDouble(r), block = ToDouble(shim.ParameterBlock), xd = ToDouble(x);
        Check(dx, x, p => Dot(rd, Reference(p, block)), "dx");
        Check(shim.GradientBlock, shim.ParameterBlock, p => Dot(rd, Reference(xd, p)), "dParameters");
    }

    [Fact]
    public void Backward_accumulates_into_the_gradient_block()
    {
        using TemporaryAttentionTrainingShim shim = Create(8);
        float[] x = Random(Batch * ShimCheckAttention.SeqLen * ShimCheckAttention.ModelDim, 9);
        float[] r = Random(x.Length, 10);
        var y = new float[x.Length];
        var dx = new float[x.Length];
        shim.ForwardTrain(x, y, Batch, Valid);
        shim.Backward(r, dx, Batch, Valid);
        float[] once = shim.GradientBlock.ToArray();
        shim.Backward(r, dx, Batch, Valid);
        for (int i = 0; i < once.Length; i++)
        {
            Assert.True(Math.Abs(2 * once[i] - shim.GradientBlock[i]) <= 1e-6f * Math.Max(1, Math.Abs(once[i])), $"gradient[{i}]");
        }
        shim.ZeroGradients();
        Assert.All(shim.GradientBlock.ToArray(), g => Assert.Equal(0f, g));
    }
}
