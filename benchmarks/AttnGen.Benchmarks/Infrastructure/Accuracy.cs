using System.Globalization;

namespace AttnGen.Benchmarks.Infrastructure;

/// <summary>
/// The gate every contender passes at GlobalSetup: its output against the naive loops' output. A
/// contender that disagrees throws, so a benchmark can never time a wrong kernel.
/// </summary>
public static class Accuracy
{
    /// <summary>Largest accepted relative error.</summary>
    public const double Tolerance = 1e-4;

    /// <summary>
    /// Relative error of <paramref name="actual"/>: max |actual − expected| over max |expected| (the
    /// max-norm relative error; per-element ratios are meaningless for outputs that cross zero). NaN or
    /// infinity anywhere counts as infinitely wrong.
    /// </summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        if (actual.Length != expected.Length)
        {
            return double.PositiveInfinity;
        }
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (!float.IsFinite(actual[i]))
            {
                return double.PositiveInfinity;
            }
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - expected[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)expected[i]));
        }
        return maxRef == 0 ? maxDiff : maxDiff / maxRef;
    }

    /// <summary>
    /// The benchmark class's own name for messages (BenchmarkDotNet runs a generated subclass of it).
    /// </summary>
    public static string ClassName(object benchmark)
    {
        Type type = benchmark.GetType();
        while (type.BaseType is { } parent && type.Assembly != typeof(Accuracy).Assembly)
        {
            type = parent;
        }
        return type.Name;
    }

    /// <summary>
    /// Fills <paramref name="output"/> with NaN, runs <paramref name="contender"/> once, and throws unless the
    /// output matches <paramref name="expected"/> within <see cref="Tolerance"/>.
    /// </summary>
    public static void Verify(string name, Action contender, float[] output, ReadOnlySpan<float> expected)
        => Verify(name, contender, [(name, output, expected.ToArray())]);

    /// <summary>
    /// The same for a contender with several outputs (a backward pass, say): each is filled with NaN before the
    /// one run and must match its own reference, which messages call <paramref name="reference"/>.
    /// </summary>
    public static void Verify(string name, Action contender, (string Output, float[] Actual, float[] Expected)[] outputs, string reference = "the naive loops")
    {
        foreach (var output in outputs)
        {
            output.Actual.AsSpan().Fill(float.NaN);
        }
        contender();
        foreach ((string what, float[] actual, float[] expected) in outputs)
        {
            string label = outputs.Length == 1 ? name : $"{name} {what}";
            double error = RelativeError(actual, expected);
            string text = error.ToString("E2", CultureInfo.InvariantCulture);
            if (!(error <= Tolerance))
            {
                throw new InvalidOperationException($"{label}: relative error {text} against {reference} exceeds {Tolerance.ToString("E0", CultureInfo.InvariantCulture)}; not benchmarking a wrong kernel.");
            }
            Console.WriteLine($"// {label}: relative error {text} against {reference} (limit {Tolerance.ToString("E0", CultureInfo.InvariantCulture)})");
        }
    }
}
