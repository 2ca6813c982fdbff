using AttnGen.Training;
using ScottPlot;
using Spectre.Console;

namespace TextClassification.Training;

/// <summary>What the run shows and writes at the end: tables, the plot, the checkpoint.</summary>
internal static class Report
{
    public static void PrintParameters(ParameterSet parameters)
    {
        var table = new Table().Border(TableBorder.Rounded).Title($"model: {parameters.ElementCount:N0} parameters");
        table.AddColumns("tensor", "shape", "floats");
        foreach (Parameter p in parameters)
        {
            table.AddRow(Markup.Escape(p.Name), Markup.Escape(p.ShapeText), $"{p.Length:N0}");
        }
        AnsiConsole.Write(table);
    }

    public static void PrintEpochs(IReadOnlyList<EpochResult> epochs)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("epochs");
        table.AddColumns("epoch", "train loss", "held-out accuracy", "seconds", "tokens/s");
        foreach (EpochResult e in epochs)
        {
            table.AddRow($"{e.Epoch}", $"{e.TrainLoss:F4}", $"{e.TestAccuracy:P2}", $"{e.Seconds:F1}", $"{e.TokensPerSecond:N0}");
        }
        AnsiConsole.Write(table);
    }

    public static void PrintConfusion(Evaluation evaluation, int count)
    {
        int[,] c = evaluation.Confusion;
        var table = new Table().Border(TableBorder.Rounded).Title($"held-out confusion matrix ({count} emails)");
        table.AddColumns("actual \\ predicted", "ham", "spam");
        table.AddRow("ham", $"{c[0, 0]}", $"[red]{c[0, 1]}[/]");
        table.AddRow("spam", $"[red]{c[1, 0]}[/]", $"{c[1, 1]}");
        AnsiConsole.Write(table);
        double precision = c[1, 1] / (double)Math.Max(1, c[1, 1] + c[0, 1]);
        double recall = c[1, 1] / (double)Math.Max(1, c[1, 1] + c[1, 0]);
        AnsiConsole.MarkupLine($"spam precision {precision:P2}, spam recall {recall:P2}");
    }

    /// <summary>Smoothed training loss (left axis) and held-out accuracy per epoch (right axis) as a PNG.</summary>
    public static void SavePlot(string path, TrainingRun run)
    {
        var plot = new Plot();
        var loss = plot.Add.ScatterLine(run.LossCurve.Select(p => p.Epoch).ToArray(), run.LossCurve.Select(p => p.Loss).ToArray());
        loss.LegendText = "training loss (moving average)";
        loss.LineWidth = 2;
        double[] epochs = run.Epochs.Select(e => (double)e.Epoch).ToArray();
        double[] accuracy = run.Epochs.Select(e => e.TestAccuracy * 100).ToArray();
        var held = plot.Add.Scatter(epochs, accuracy);
        held.LegendText = "held-out accuracy (%)";
        held.MarkerSize = 8;
        held.LineWidth = 2;
        held.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Bottom.Label.Text = "epoch";
        plot.Axes.Left.Label.Text = "cross-entropy";
        plot.Axes.Right.Label.Text = "accuracy (%)";
        plot.Axes.SetLimitsY(50, 100, plot.Axes.Right);
        plot.Title("Spam classifier: embedding -> attention -> mean pooling -> linear");
        plot.ShowLegend(Alignment.MiddleRight);
        plot.SavePng(path, 900, 520);
    }

    /// <summary>Writes the trained parameters as a safetensors checkpoint when the runtime can; returns what happened.</summary>
    /// <summary>Writes every parameter of the model as safetensors (F32, PyTorch-style dotted names), atomically.</summary>
    public static string SaveCheckpoint(ParameterSet parameters, string path)
    {
        var declarations = new List<AttnGen.SafeTensorDeclaration>();
        foreach (Parameter p in parameters)
        {
            long[] shape = p.Shape.Select(d => (long)d).ToArray();
            declarations.Add(new AttnGen.SafeTensorDeclaration(p.Name, shape));
        }
        using (AttnGen.AtomicFileWriter file = AttnGen.AtomicFileWriter.Create(path))
        {
            AttnGen.SafeTensorsWriter writer = AttnGen.SafeTensorsWriter.Begin(file.Stream, declarations,
                new Dictionary<string, string> { ["format"] = "pt", ["producer"] = "AttnGen TextClassification" });
            foreach (Parameter p in parameters)
            {
                writer.WriteNext(p.Value);
            }
            writer.Complete();
            file.Commit();
        }
        return $"checkpoint: {path} ({parameters.Count} tensors, {parameters.ElementCount:N0} floats)";
    }
}
