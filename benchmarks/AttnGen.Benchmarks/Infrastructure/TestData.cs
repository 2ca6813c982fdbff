namespace AttnGen.Benchmarks.Infrastructure;

/// <summary>Seeded inputs so every run and every contender sees the same numbers.</summary>
public static class TestData
{
    /// <summary>Seed of inputs and weights.</summary>
    public const ulong Seed = 20240601;

    /// <summary><paramref name="length"/> floats uniform in [-1, 1) from the stream <paramref name="stream"/>.</summary>
    public static float[] Uniform(int length, ulong stream, float range = 1f)
    {
        var values = new float[length];
        new SeededRandom(Seed + stream).FillUniform(values, -range, range);
        return values;
    }
}
