using System.Diagnostics;
using AttnGen;
using AttnGen.Training;
using Spectre.Console;
using TextClassification.Data;
using TextClassification.Model;

namespace TextClassification.Training;

/// <summary>What one epoch gave.</summary>
internal sealed record EpochResult(int Epoch, double TrainLoss, double TestAccuracy, double Seconds, double TokensPerSecond);

/// <summary>Accuracy and the confusion matrix <c>[actual, predicted]</c> of a model on a set.</summary>
internal sealed record Evaluation(double Accuracy, int[,] Confusion);

/// <summary>Mini-batch training with AdamW and gradient clipping, a progress bar per epoch, evaluation after each.</summary>
internal sealed class TrainingRun(SequenceClassifier model, IOptimizer optimizer, int batchSize, float clipNorm)
{
    /// <summary>Smoothed training loss by fractional epoch, for the plot.</summary>
    public List<(double Epoch, double Loss)> LossCurve { get; } = [];

    public List<EpochResult> Epochs { get; } = [];

    public void Run(EncodedSet train, EncodedSet test, int epochs, ulong seed)
    {
        int seqLen = train.SeqLen;
        var ids = new int[batchSize * seqLen];
        var valid = new int[batchSize];
        var labels = new int[batchSize];
        int[] order = Enumerable.Range(0, train.Count).ToArray();
        int batches = (train.Count + batchSize - 1) / batchSize;
        var random = new SeededRandom(seed);
        double smoothed = double.NaN;
        var trainer = new Trainer<TokenBatch>(model, optimizer, clipNorm);

        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(context =>
            {
                for (int epoch = 1; epoch <= epochs; epoch++)
                {
                    ProgressTask task = context.AddTask($"epoch {epoch}/{epochs}", maxValue: batches);
                    random.Shuffle<int>(order);
                    var clock = Stopwatch.StartNew();
                    double lossSum = 0;
                    long tokens = 0;
                    for (int b = 0; b < batches; b++)
                    {
                        int count = Math.Min(batchSize, train.Count - b * batchSize);
                        for (int i = 0; i < count; i++)
                        {
                            int s = order[b * batchSize + i];
                            train.Ids.AsSpan(s * seqLen, seqLen).CopyTo(ids.AsSpan(i * seqLen));
                            valid[i] = train.ValidLengths[s];
                            labels[i] = train.Labels[s];
                            tokens += valid[i];
                        }
                        float loss = trainer.Step(new TokenBatch(ids.AsSpan(0, count * seqLen), valid.AsSpan(0, count), labels.AsSpan(0, count), count));

                        lossSum += loss;
                        smoothed = double.IsNaN(smoothed) ? loss : 0.95 * smoothed + 0.05 * loss;
                        LossCurve.Add((epoch - 1 + (b + 1) / (double)batches, smoothed));
                        double rate = tokens / Math.Max(1e-9, clock.Elapsed.TotalSeconds);
                        task.Description = $"epoch {epoch}/{epochs}  loss {lossSum / (b + 1):F4}  {rate,8:N0} tokens/s";
                        task.Increment(1);
                    }
                    double seconds = clock.Elapsed.TotalSeconds;
                    Evaluation evaluation = Evaluate(test);
                    Epochs.Add(new EpochResult(epoch, lossSum / batches, evaluation.Accuracy, seconds, tokens / seconds));
                    task.Description = $"epoch {epoch}/{epochs}  loss {lossSum / batches:F4}  {tokens / seconds,8:N0} tokens/s  held-out {evaluation.Accuracy:P2}";
                }
            });
    }

    /// <summary>Accuracy and confusion matrix on <paramref name="set"/> (inference through the generated forward).</summary>
    public Evaluation Evaluate(EncodedSet set)
    {
        var confusion = new int[2, 2];
        var predictions = new int[batchSize];
        for (int start = 0; start < set.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, set.Count - start);
            model.Predict(set.Ids.AsSpan(start * set.SeqLen, count * set.SeqLen), set.ValidLengths.AsSpan(start, count), count, predictions.AsSpan(0, count));
            for (int i = 0; i < count; i++)
            {
                confusion[set.Labels[start + i], predictions[i]]++;
            }
        }
        return new Evaluation((confusion[0, 0] + confusion[1, 1]) / (double)set.Count, confusion);
    }
}
