using System.Diagnostics;
using AttnGen;
using AttnGen.Training;
using CharLM.Data;
using CharLM.Model;
using Spectre.Console;

namespace CharLM.Training;

/// <summary>What a run of training steps gave.</summary>
internal sealed record TrainingSummary(int Steps, double FirstLoss, double LastLoss, double Seconds, long Characters)
{
    public double CharactersPerSecond => Characters / Seconds;
}

/// <summary>
/// Training on random windows of the training text with AdamW: linear warm-up over the first 5% of the steps,
/// then a cosine decay to a tenth of the peak rate; gradient norm clipped; a Spectre.Console progress bar.
/// </summary>
internal sealed class TrainingRun(DataParallelModel model, Optimizer optimizer, int batchSize, float peakLearningRate, float clipNorm)
{
    /// <summary>The learning rate of step <paramref name="step"/> (0-based) of <paramref name="steps"/>.</summary>
    public float LearningRate(int step, int steps)
    {
        int warmup = Math.Max(1, steps / 20);
        if (step < warmup)
        {
            return peakLearningRate * (step + 1) / warmup;
        }
        double progress = (step - warmup) / (double)Math.Max(1, steps - warmup);
        return (float)(peakLearningRate * (0.1 + 0.45 * (1 + Math.Cos(Math.PI * progress))));
    }

    /// <summary>Takes <paramref name="steps"/> steps on windows of <paramref name="trainIds"/> drawn with <paramref name="seed"/>.</summary>
    public TrainingSummary Run(int[] trainIds, int steps, ulong seed, bool showProgress = true)
    {
        int seqLen = model.SeqLen;
        var ids = new int[batchSize * seqLen];
        var targets = new int[batchSize * seqLen];
        var random = new SeededRandom(seed);
        var trainer = new Trainer<TextBatch>(model, optimizer, clipNorm);
        double first = double.NaN, smoothed = double.NaN;
        var clock = Stopwatch.StartNew();

        void Loop(ProgressTask? task)
        {
            for (int step = 0; step < steps; step++)
            {
                Windows.Sample(trainIds, seqLen, ref random, ids, targets);
                optimizer.LearningRate = LearningRate(step, steps);
                float loss = trainer.Step(new TextBatch(ids, targets, batchSize));
                first = double.IsNaN(first) ? loss : first;
                smoothed = double.IsNaN(smoothed) ? loss : 0.97 * smoothed + 0.03 * loss;
                if (task is not null)
                {
                    double rate = (step + 1) * (double)ids.Length / clock.Elapsed.TotalSeconds;
                    task.Description = $"training  loss {smoothed:F3} ({smoothed / Math.Log(2):F2} bits/char)  {rate,7:N0} chars/s";
                    task.Increment(1);
                }
            }
        }

        if (showProgress)
        {
            AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context => Loop(context.AddTask("training", maxValue: steps)));
        }
        else
        {
            Loop(null);
        }
        return new TrainingSummary(steps, first, smoothed, clock.Elapsed.TotalSeconds, (long)steps * ids.Length);
    }
}
