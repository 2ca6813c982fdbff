using System.Numerics.Tensors;

namespace AttnGen.Training;

/// <summary>
/// Softmax cross-entropy from raw logits, averaged over the batch (PyTorch's <c>nn.CrossEntropyLoss</c>
/// with mean reduction). Stable for any logit size: each row is shifted by its maximum before <c>exp</c>.
/// </summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>
    /// Returns the mean loss over <paramref name="batch"/> rows of <paramref name="classes"/> logits and
    /// writes its gradient with respect to the logits, <c>(softmax(z) - onehot(label)) / batch</c>, into
    /// <paramref name="logitsGrad"/> (pass an empty span to skip the gradient).
    /// </summary>
    /// <exception cref="ArgumentException">A span has the wrong length or a label is out of range.</exception>
    public static float Compute(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, Span<float> logitsGrad, int batch, int classes)
    {
        Guard.Batch(batch, classes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        Guard.Length(logits.Length, batch, 1, classes, nameof(logits));
        Guard.Length(labels.Length, batch, 1, 1, nameof(labels));
        if (!logitsGrad.IsEmpty)
        {
            Guard.Length(logitsGrad.Length, batch, 1, classes, nameof(logitsGrad));
        }
        for (int b = 0; b < batch; b++)
        {
            if ((uint)labels[b] >= (uint)classes)
            {
                throw new ArgumentOutOfRangeException(nameof(labels), labels[b], $"'labels[{b}]' is {labels[b]}; expected a class in 0..{classes - 1}.");
            }
        }

        double total = 0;
        float invBatch = 1f / batch;
        for (int b = 0; b < batch; b++)
        {
            ReadOnlySpan<float> row = logits.Slice(b * classes, classes);
            float max = TensorPrimitives.Max(row);
            double sum = 0;
            if (logitsGrad.IsEmpty)
            {
                foreach (float z in row)
                {
                    sum += Math.Exp(z - max);
                }
            }
            else
            {
                Span<float> grad = logitsGrad.Slice(b * classes, classes);
                TensorPrimitives.Subtract(row, max, grad);
                TensorPrimitives.Exp(grad, grad);
                sum = TensorPrimitives.Sum<float>(grad);
                TensorPrimitives.Multiply(grad, (float)(invBatch / sum), grad);
                grad[labels[b]] -= invBatch;
            }
            // -log softmax(z)[label] = log Σ exp(z - max) + max - z[label]
            total += Math.Log(sum) + max - row[labels[b]];
        }
        return (float)(total / batch);
    }

    /// <summary>Index of the largest logit in each row (the predicted class).</summary>
    public static void Predict(ReadOnlySpan<float> logits, Span<int> predictions, int batch, int classes)
    {
        Guard.Batch(batch, classes);
        Guard.Length(logits.Length, batch, 1, classes, nameof(logits));
        Guard.Length(predictions.Length, batch, 1, 1, nameof(predictions));
        for (int b = 0; b < batch; b++)
        {
            predictions[b] = TensorPrimitives.IndexOfMax(logits.Slice(b * classes, classes));
        }
    }
}
