using System.CommandLine;
using System.CommandLine.Parsing;

namespace CharLM;

/// <summary>Command-line options, parsed and validated by System.CommandLine (which also writes --help).</summary>
internal sealed record Options
{
    public const int DefaultSteps = 1500;
    public const int QuickSteps = 30;

    public int Steps { get; init; } = DefaultSteps;

    public ulong Seed { get; init; } = 42;

    public string DataPath { get; init; } = DefaultDataPath();

    public float Temperature { get; init; } = 0.8f;

    public int Length { get; init; } = 240;

    public int Samples { get; init; } = 4;

    public bool Quick { get; init; }

    private static readonly Option<int?> StepsOption = new("--steps")
    {
        Description = $"Training steps of 16 windows of 128 characters (default {DefaultSteps}; {QuickSteps} with --quick).",
        HelpName = "N",
        Validators = { result => Positive(result) },
    };

    private static readonly Option<ulong> SeedOption = new("--seed")
    {
        Description = "Seed for the initialisation, the training windows and the sampling.",
        HelpName = "N",
        DefaultValueFactory = _ => 42,
    };

    private static readonly Option<string> DataOption = new("--data")
    {
        Description = "Folder that caches the corpus tarball, or the tarball itself (default: ~/.cache/attngen/sotu).",
        HelpName = "PATH",
        DefaultValueFactory = _ => DefaultDataPath(),
        Validators = { result => NotBlank(result) },
    };

    private static readonly Option<float> TemperatureOption = new("--temperature")
    {
        Description = "Sampling temperature: 0 always takes the most likely character, 1 samples the model's distribution.",
        HelpName = "T",
        DefaultValueFactory = _ => 0.8f,
        Validators = { result => NonNegativeTemperature(result) },
    };

    private static readonly Option<int?> LengthOption = new("--length")
    {
        Description = "Characters generated per sample (default 240; 64 with --quick).",
        HelpName = "N",
        Validators = { result => Positive(result) },
    };

    private static readonly Option<int?> SamplesOption = new("--samples")
    {
        Description = "Number of samples, generated together as one batch (default 4).",
        HelpName = "N",
        Validators = { result => Positive(result) },
    };

    private static readonly Option<bool> QuickOption = new("--quick")
    {
        Description = "A run of a few seconds for CI: few steps, a small evaluation, short samples.",
    };

    /// <summary>The command: its options, and --help from System.CommandLine.</summary>
    public static RootCommand Command { get; } = new(
        "Trains a character-level causal language model (2 pre-norm transformer blocks around the generated causal " +
        "attention) on the State of the Union addresses, reports held-out bits per character against a bigram " +
        "baseline, and writes samples.")
    {
        StepsOption, SeedOption, DataOption, TemperatureOption, LengthOption, SamplesOption, QuickOption,
    };

    /// <summary>The options of a parse without errors.</summary>
    public static Options From(ParseResult parsed)
    {
        bool quick = parsed.GetValue(QuickOption);
        return new Options
        {
            Steps = parsed.GetValue(StepsOption) ?? (quick ? QuickSteps : DefaultSteps),
            Seed = parsed.GetValue(SeedOption),
            DataPath = parsed.GetValue(DataOption)!,
            Temperature = parsed.GetValue(TemperatureOption),
            Length = parsed.GetValue(LengthOption) ?? (quick ? 64 : 240),
            Samples = parsed.GetValue(SamplesOption) ?? 4,
            Quick = quick,
        };
    }

    private static void Positive(OptionResult result)
    {
        if (result.GetValueOrDefault<int?>() is < 1 and int value)
        {
            result.AddError($"{result.Option.Name} needs a whole number above 0; got {value}.");
        }
    }

    private static void NonNegativeTemperature(OptionResult result)
    {
        float value = result.GetValueOrDefault<float>();
        if (!(value >= 0) || float.IsInfinity(value))
        {
            result.AddError($"--temperature needs a finite number of 0 or more; got {value}.");
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
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(home, ".cache", "attngen", "sotu");
    }
}
