using System.Globalization;

namespace TextClassification;

/// <summary>Command-line options.</summary>
internal sealed record Options
{
    public const string Usage = """
        Trains a spam classifier (embedding -> generated attention -> mean pooling -> linear) on the
        SpamAssassin public corpus and reports held-out accuracy.

        Options:
          --epochs N     training epochs (default 3; 1 with --quick)
          --seed N       seed for the split, initialisation and shuffling (default 42)
          --data PATH    folder that caches the corpus tarball, or the tarball itself
                         (default: $ATTNGEN_DATA, else ~/.cache/attngen/spam-assassin)
          --out DIR      where the plot and vocabulary go (default artifacts/text-classification)
          --quick        a short run for CI: a small subset, one epoch
          --help         this text
        """;

    public int Epochs { get; init; } = 3;

    public ulong Seed { get; init; } = 42;

    public string DataPath { get; init; } = DefaultDataPath();

    public string OutputDirectory { get; init; } = Path.Combine("artifacts", "text-classification");

    public bool Quick { get; init; }

    public bool Help { get; init; }

    /// <summary>Parses <paramref name="args"/>; throws <see cref="ArgumentException"/> with a readable message.</summary>
    public static Options Parse(string[] args)
    {
        var options = new Options();
        bool epochsGiven = false;
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value.");
            options = arg switch
            {
                "--epochs" => options with { Epochs = PositiveInt(arg, Value()) },
                "--seed" => options with { Seed = ulong.Parse(Value(), CultureInfo.InvariantCulture) },
                "--data" => options with { DataPath = Value() },
                "--out" => options with { OutputDirectory = Value() },
                "--quick" => options with { Quick = true },
                "--help" or "-h" => options with { Help = true },
                _ => throw new ArgumentException($"Unknown option '{arg}'."),
            };
            epochsGiven |= arg == "--epochs";
        }
        return options.Quick && !epochsGiven ? options with { Epochs = 1 } : options;
    }

    private static int PositiveInt(string name, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0
            ? value
            : throw new ArgumentException($"{name} needs a whole number above 0; got '{text}'.");

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
