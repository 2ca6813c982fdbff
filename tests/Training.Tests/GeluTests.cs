using AttnGen.Training;
using static AttnGen.Training.Tests.GradientCheck;

namespace AttnGen.Training.Tests;

public class GeluTests
{
    /// <summary>Points across both tails and the bend, zero included.</summary>
    private static float[] Points()
    {
        var x = new float[121];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = -6f + 0.1f * i;
        }
        return x;
    }

    [Theory]
    [InlineData(GeluApproximation.None)]
    [InlineData(GeluApproximation.Tanh)]
    public void Forward_MatchesTheFloat64FormulaInBothTails(GeluApproximation form)
    {
        var gelu = new Gelu(form);
        float[] x = Points();
        var y = new float[x.Length];
        gelu.Forward(x, y);
        for (int i = 0; i < x.Length; i++)
        {
            double expected = Reference(x[i], form);
            // Relative to each value, so the small outputs of the lower tail are held to float precision too.
            Assert.True(Math.Abs(y[i] - expected) <= 3e-7 * Math.Abs(expected) + 1e-30, $"GELU({x[i]}) = {y[i]:G9}, expected {expected:G9}");
        }
    }

    [Theory]
    [InlineData(GeluApproximation.None)]
    [InlineData(GeluApproximation.Tanh)]
    public void Backward_MatchesFiniteDifferences(GeluApproximation form)
    {
        var gelu = new Gelu(form);
        float[] x = Random(40, 31, 4f), r = Random(40, 32);
        var dx = new float[x.Length];
        gelu.Backward(x, r, dx);
        double[] rd = ToDouble(r);
        Check(dx, x, p => Dot(rd, p.Select(v => Reference(v, form)).ToArray()), "dx");
    }

    [Fact]
    public void Backward_MayWriteOverTheOutputGradient()
    {
        var gelu = new Gelu();
        float[] x = Random(9, 3, 3f), g = Random(9, 4), separate = new float[9];
        gelu.Backward(x, g, separate);
        gelu.Backward(x, g, g);
        Assert.Equal(separate, g);
    }

    /// <summary>
    /// The tanh form runs over blocks of elements: a length that is not a multiple of the block, far tails (where
    /// e^(−2u) overflows without its cap) and in-place use all give the reference's value and a finite slope.
    /// </summary>
    [Fact]
    public void TanhForm_HoldsOverLongSpansAndFarTails()
    {
        var gelu = new Gelu(GeluApproximation.Tanh);
        var x = new float[1001];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = -50f + 0.1f * i;
        }
        var y = (float[])x.Clone();
        gelu.Forward(y, y);
        var slope = new float[x.Length];
        var ones = Enumerable.Repeat(1f, x.Length).ToArray();
        gelu.Backward(x, ones, slope);
        for (int i = 0; i < x.Length; i++)
        {
            double expected = Reference(x[i], GeluApproximation.Tanh);
            Assert.True(Math.Abs(y[i] - expected) <= 3e-7 * Math.Abs(expected) + 1e-30, $"GELU({x[i]}) = {y[i]:G9}, expected {expected:G9}");
            Assert.True(float.IsFinite(slope[i]), $"GELU'({x[i]}) = {slope[i]}");
        }
        Assert.Equal(0f, slope[0]);      // x = -50: flat
        Assert.Equal(1f, slope[^1]);     // x = 50: the identity
    }

    /// <summary>The two forms are different functions: the default is not silently the approximation.</summary>
    [Fact]
    public void ExactAndTanhForms_Differ()
    {
        Assert.Equal(GeluApproximation.None, new Gelu().Approximation);
        float[] x = Points();
        float[] exact = new float[x.Length], tanh = new float[x.Length];
        new Gelu(GeluApproximation.None).Forward(x, exact);
        new Gelu(GeluApproximation.Tanh).Forward(x, tanh);
        double largest = exact.Zip(tanh, (a, b) => Math.Abs(a - b)).Max();
        Assert.InRange(largest, 1e-4, 1e-2); // they agree to about 5e-4 (Hendrycks and Gimpel)
    }

    [Fact]
    public void WrongLengths_AreRefusedByName()
    {
        var gelu = new Gelu();
        Assert.Equal("output", Assert.Throws<ArgumentException>(() => gelu.Forward(new float[4], new float[3])).ParamName);
        Assert.Equal("outputGrad", Assert.Throws<ArgumentException>(() => gelu.Backward(new float[4], new float[5], new float[4])).ParamName);
        Assert.Equal("inputGrad", Assert.Throws<ArgumentException>(() => gelu.Backward(new float[4], new float[4], new float[2])).ParamName);
        Assert.Equal("approximation", Assert.Throws<ArgumentOutOfRangeException>(() => new Gelu((GeluApproximation)7)).ParamName);
    }

    /// <summary>GELU in float64 with its own erf: a power series below 3, a continued fraction for erfc above.</summary>
    private static double Reference(double x, GeluApproximation form)
    {
        if (form == GeluApproximation.Tanh)
        {
            // 0.5·x·(1 + tanh(u)) written as x / (1 + e^(−2u)): the same function, without 1 + tanh's cancellation
            // far in the lower tail (there 1 + tanh(u) in float64 keeps only a few digits).
            return x / (1 + Math.Exp(-2 * Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
        }
        double z = x / Math.Sqrt(2);
        double phi = z >= 0 ? 1 - 0.5 * Erfc(z) : 0.5 * Erfc(-z);
        return x * phi;
    }

    private static double Erfc(double z)
    {
        if (z < 3)
        {
            // erf(z) = 2/√π Σ (−1)ⁿ z^(2n+1) / (n! (2n+1))
            double term = z, sum = z;
            for (int n = 1; n < 80; n++)
            {
                term *= -z * z / n;
                sum += term / (2 * n + 1);
            }
            return 1 - 2 / Math.Sqrt(Math.PI) * sum;
        }
        // erfc(z) = e^(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...))))
        double fraction = z;
        for (int k = 80; k >= 1; k--)
        {
            fraction = z + k / 2.0 / fraction;
        }
        return Math.Exp(-z * z) / (Math.Sqrt(Math.PI) * fraction);
    }
}
