namespace AttnGen.Training.Tests;

public class ConvergenceTests
{
    /// <summary>y = x·w* + b* + small noise: a linear layer trained with MSE and Adam gets down to the noise floor.</summary>
    [Theory]
    [InlineData("adam")]
    [InlineData("sgd-momentum")]
    public void Linear_regression_reaches_low_loss(string kind)
    {
        const int samples = 256, inF = 8;
        var random = new SeededRandom(99);
        var x = new float[samples * inF];
        random.FillUniform(x, -1f, 1f);
        float[] trueWeight = [0.5f, -1.2f, 2f, 0f, 0.3f, -0.7f, 1.1f, -2f];
        const float trueBias = 0.25f;
        var y = new float[samples];
        for (int s = 0; s < samples; s++)
        {
            float sum = trueBias + 0.01f * (float)random.NextGaussian();
            for (int i = 0; i < inF; i++)
            {
                sum += x[s * inF + i] * trueWeight[i];
            }
            y[s] = sum;
        }

        using var layer = new Linear(inF, 1);
        layer.ResetParameters(1);
        using Optimizer optimizer = kind == "adam" ? new Adam(layer.Parameters, 0.05f) : new Sgd(layer.Parameters, 0.1f, momentum: 0.9f);
        var prediction = new float[samples];
        var grad = new float[samples];
        float loss = float.NaN;
        for (int epoch = 0; epoch < 300; epoch++)
        {
            optimizer.ZeroGrad();
            layer.Forward(x, prediction, samples);
            loss = MeanSquaredError.Compute(prediction, y, grad);
            layer.Backward(x, grad, default, samples);
            optimizer.Step();
        }

        Assert.True(loss < 1e-3f, $"final MSE {loss}");
        for (int i = 0; i < inF; i++)
        {
            Assert.Equal(trueWeight[i], layer.Weight[i], 1);
        }
        Assert.Equal(trueBias, layer.Bias[0], 1);
    }
}
