namespace AttnGen.Training.Tests;

/// <summary>
/// Central finite differences on float64 reference implementations. The analytic gradients under test
/// come from the float32 kernels; with h = 1e-6 in float64 the differences are accurate to about 1e-9, so
/// what remains is float32 rounding in the kernels: a few ulps per accumulated term, hence the relative
/// tolerance of 1e-4 against the largest gradient entry.
/// </summary>
internal static class GradientCheck
{
    public const double Step = 1e-6;
    public const double Tolerance = 1e-4;

    /// <summary>d objective / d point[i] for every i, by (f(x + h) - f(x - h)) / 2h.</summary>
    public static double[] Numeric(double[] point, Func<double[], double> objective)
    {
        var grad = new double[point.Length];
        for (int i = 0; i < point.Length; i++)
        {
            double saved = point[i];
            point[i] = saved + Step;
            double up = objective(point);
            point[i] = saved - Step;
            double down = objective(point);
            point[i] = saved;
            grad[i] = (up - down) / (2 * Step);
        }
        return grad;
    }

    /// <summary>Asserts |actual - expected| ≤ tolerance · max(1, max |expected|) element-wise.</summary>
    public static void AssertClose(ReadOnlySpan<float> actual, double[] expected, string what, double tolerance = Tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 1e-3;
        foreach (double e in expected)
        {
            scale = Math.Max(scale, Math.Abs(e));
        }
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            Assert.True(error <= tolerance * scale,
                $"{what}[{i}]: got {actual[i]:G9}, expected {expected[i]:G9} (error {error:G3}, allowed {tolerance * scale:G3}).");
        }
    }

    /// <summary>Checks the analytic gradient of Σ r·f(x) with respect to one tensor.</summary>
    public static void Check(ReadOnlySpan<float> analytic, ReadOnlySpan<float> at, Func<double[], double> objective, string what)
    {
        double[] point = ToDouble(at);
        AssertClose(analytic, Numeric(point, objective), what);
    }

    public static double[] ToDouble(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i];
        }
        return result;
    }

    public static float[] Random(int length, ulong seed, float scale = 1f)
    {
        var values = new float[length];
        new SeededRandom(seed).FillUniform(values, -scale, scale);
        return values;
    }

    public static double Dot(double[] a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }
        return sum;
    }

    public static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }
        return sum;
    }
}
