using static AttnGen.Training.Tests.GradientCheck;

namespace AttnGen.Training.Tests;

public class LossTests
{
    [Fact]
    public void SoftmaxCrossEntropy_matches_reference_and_finite_differences()
    {
        const int batch = 3, classes = 4;
        float[] logits = Random(batch * classes, 31, 4f);
        int[] labels = [2, 0, 3];
        var grad = new float[logits.Length];
        float loss = SoftmaxCrossEntropy.Compute(logits, labels, grad, batch, classes);
        Assert.Equal(References.CrossEntropy(ToDouble(logits), labels, classes), loss, 5);
        Check(grad, logits, p => References.CrossEntropy(p, labels, classes), "dLogits");
        Assert.Equal(loss, SoftmaxCrossEntropy.Compute(logits, labels, default, batch, classes), 6);
    }

    [Fact]
    public void SoftmaxCrossEntropy_is_stable_for_huge_logits()
    {
        float[] logits = [1000f, -1000f, 0f, 2000f, 2000f, -3000f];
        int[] labels = [1, 0];
        var grad = new float[6];
        float loss = SoftmaxCrossEntropy.Compute(logits, labels, grad, 2, 3);
        // Row 0 [1000, -1000, 0], label 1: 2000; row 1 [2000, 2000, -3000], label 0: two equal maxima, log 2.
        Assert.Equal((2000 + Math.Log(2)) / 2, loss, 3);
        Assert.All(grad, g => Assert.True(float.IsFinite(g)));
        Assert.Equal(0.5f, grad[0], 6);   // (1 - 0) / batch
        Assert.Equal(-0.5f, grad[1], 6);  // (0 - 1) / batch
        Assert.Equal(-0.25f, grad[3], 6); // row 1, label 0: (1/2 - 1) / batch
        Assert.Equal(0.25f, grad[4], 6);
    }

    [Fact]
    public void SoftmaxCrossEntropy_rejects_bad_labels()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Compute(new float[4], [0, 2], new float[4], 2, 2));
        Assert.Contains("labels[1]", e.Message);
    }

    [Fact]
    public void MeanSquaredError_matches_reference_and_finite_differences()
    {
        float[] prediction = Random(7, 41, 2f), target = Random(7, 42, 2f);
        var grad = new float[7];
        float loss = MeanSquaredError.Compute(prediction, target, grad);
        double[] t = ToDouble(target);
        double Reference(double[] p)
        {
            double sum = 0;
            for (int i = 0; i < p.Length; i++)
            {
                sum += (p[i] - t[i]) * (p[i] - t[i]);
            }
            return sum / p.Length;
        }
        Assert.Equal(Reference(ToDouble(prediction)), loss, 5);
        Check(grad, prediction, Reference, "dPrediction");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(4096)]
    [InlineData(3 * 4096 + 21)]
    public void MeanSquaredError_over_chunks_and_tails_matches_float64_and_the_loss_alone_is_the_same(int n)
    {
        // Lengths below one vector, one whole chunk, and several chunks with a tail past the last vector.
        float[] prediction = Random(n, 51, 3f), target = Random(n, 52, 3f);
        var grad = new float[n];
        grad.AsSpan().Fill(float.NaN);
        float loss = MeanSquaredError.Compute(prediction, target, grad);
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            double d = (double)prediction[i] - target[i];
            sum += d * d;
            // The gradient is the float difference times the float 2 / n.
            float expected = (prediction[i] - target[i]) * (2f / n);
            Assert.True(expected == grad[i], $"grad[{i}] is {grad[i]}, expected {expected}");
        }
        Assert.True(Math.Abs(loss - sum / n) <= 2e-6 * (sum / n), $"loss {loss}, float64 reference {sum / n}");
        Assert.Equal(loss, MeanSquaredError.Compute(prediction, target, default));
    }
}
