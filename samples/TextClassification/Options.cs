using System.CommandLine;
using System.CommandLine.Parsing;

namespace TextClassification;

/// <summary>Command-line options, parsed and validated by System.CommandLine (which also writes --help).</summary>
internal sealed record Options
{
    public int Epochs { get; init; } = 3;

    public ulong Seed { get; init; } = 42;

    public string DataPath { get; init; } = DefaultDataPath();

    public string OutputDirectory { get; init; } = Path.Combine("artifacts", "text-classification");

    public bool Quick { get; init; }

    private static readonly Option<int?> EpochsOption = new("--epochs")
    {
        Description = "Training epochs (default 3; 1 with --quick).",
        HelpName = "N",
        Validators = { result => PositiveEpochs(result) },
    };

    private static readonly Option<ulong> SeedOption = new("--seed")
    {
        Description = "Seed for the split, the initialisation and the shuffling.",
        HelpName = "N",
        DefaultValueFactory = _ => 42,
    };

    private static readonly Option<string> DataOption = new("--data")
    {
        Description = "Folder that caches the corpus tarball, or the tarball itself (default: $ATTNGEN_DATA, else ~/.cache/attngen/spam-assassin).",
        HelpName = "PATH",
        DefaultValueFactory = _ => DefaultDataPath(),
        Validators = { result => NotBlank(result) },
    };

    private static readonly Option<string> OutOption = new("--out")
    {
        Description = "Where the plot, the vocabulary and the checkpoint go.",
        HelpName = "DIR",
        DefaultValueFactory = _ => Path.Combine("artifacts", "text-classification"),
        Validators = { result => NotBlank(result) },
    };

    private static readonly Option<bool> QuickOption = new("--quick")
    {
        Description = "A short run for CI: a small subset, one epoch.",
    };

    /// <summary>The command: its options, and --help from System.CommandLine.</summary>
    public static RootCommand Command { get; } = new(
        "Trains a spam classifier (embedding -> generated attention -> mean pooling -> linear) on the " +
        "SpamAssassin public corpus and reports held-out accuracy.")
    {
        EpochsOption, SeedOption, DataOption, OutOption, QuickOption,
    };

    /// <summary>The options of a parse without errors.</summary>
    public static Options From(ParseResult parsed)
    {
        bool quick = parsed.GetValue(QuickOption);
        return new Options
        {
            Epochs = parsed.GetValue(EpochsOption) ?? (quick ? 1 : 3),
            Seed = parsed.GetValue(SeedOption),
            DataPath = parsed.GetValue(DataOption)!,
            OutputDirectory = parsed.GetValue(OutOption)!,
            Quick = quick,
        };
    }

    private static void PositiveEpochs(OptionResult result)
    {
        if (result.GetValueOrDefault<int?>() is < 1 and int epochs)
        {
            result.AddError($"--epochs needs a whole number above 0; got {epochs}.");
        }
    }

    private static void NotBlank(OptionResult result)
    {
        if (string.IsNullOrWhiteSpace(result.GetValueOrDefault<string>()))
        {
            result.AddError($"{result.Option.Name} needs a path; got an empty one.");
        }
    }

    private static string DefaultDataPath()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("ATTNGEN_DATA");
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return fromEnvironment;
        }
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".cache", "attngen", "spam-assassin");
    }
}
