namespace AttnGen;

/// <summary>
/// A small, fully specified pseudo-random generator (SplitMix64) so that seeded initialisation gives
/// the same numbers on every machine and every .NET version.
/// </summary>
public struct SeededRandom
{
    private ulong _state;

    /// <summary>Starts the sequence for <paramref name="seed"/>.</summary>
    public SeededRandom(ulong seed) => _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>A float uniform in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public float NextUniform(float low, float high) => (float)(low + (high - low) * NextDouble());

    /// <summary>A standard normal sample (Box-Muller).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fills <paramref name="values"/> uniformly in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public void FillUniform(Span<float> values, float low, float high)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = NextUniform(low, high);
        }
    }

    /// <summary>Fills <paramref name="values"/> with normal samples of mean <paramref name="mean"/> and standard deviation <paramref name="std"/>.</summary>
    public void FillNormal(Span<float> values, float mean, float std)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(mean + std * NextGaussian());
        }
    }

    /// <summary>An integer uniform in [0, <paramref name="count"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is not positive.</exception>
    public int NextInt(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        return (int)((NextUInt64() >> 11) % (ulong)count);
    }

    /// <summary>Shuffles <paramref name="values"/> in place (Fisher-Yates).</summary>
    public void Shuffle<T>(Span<T> values)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }
}
