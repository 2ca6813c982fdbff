using System.Numerics.Tensors;

namespace AttnGen.Training;

/// <summary>Mean squared error over all elements (PyTorch's <c>nn.MSELoss</c> with mean reduction).</summary>
public static class MeanSquaredError
{
    /// <summary>
    /// Returns <c>mean((prediction - target)²)</c> and writes its gradient <c>2 (prediction - target) / n</c>
    /// into <paramref name="predictionsGrad"/> (pass an empty span to skip the gradient).
    /// </summary>
    /// <exception cref="ArgumentException">The spans' lengths differ or are zero.</exception>
    public static float Compute(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> predictionsGrad)
    {
        int n = predictions.Length;
        if (n == 0)
        {
            throw new ArgumentException("'predictions' is empty; the mean of no errors is undefined.", nameof(predictions));
        }
        Guard.Length(targets.Length, 1, 1, n, nameof(targets));
        double sum = 0;
        if (predictionsGrad.IsEmpty)
        {
            for (int i = 0; i < n; i++)
            {
                double d = (double)predictions[i] - targets[i];
                sum += d * d;
            }
            return (float)(sum / n);
        }
        Guard.Length(predictionsGrad.Length, 1, 1, n, nameof(predictionsGrad));
        TensorPrimitives.Subtract(predictions, targets, predictionsGrad);
        sum = TensorPrimitives.SumOfSquares<float>(predictionsGrad);
        TensorPrimitives.Multiply(predictionsGrad, 2f / n, predictionsGrad);
        return (float)(sum / n);
    }
}
