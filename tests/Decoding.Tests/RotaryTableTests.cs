using AttnGen.Kernels.Tests;

namespace AttnGen.Decoding.Tests;

public sealed class RotaryTableTests
{
    [Theory]
    [InlineData(8, 10000.0)]
    [InlineData(128, 10000.0)]
    [InlineData(64, 500000.0)]
    public void Table_HoldsCosAndSinOfPositionTimesTheta(int headDim, double rotaryBase)
    {
        using var table = new RotaryTable(headDim, 4096, rotaryBase);
        foreach (int p in new[] { 0, 1, 7, 1000, 4095 })
        {
            for (int i = 0; i < headDim / 2; i++)
            {
                double angle = p / Math.Pow(rotaryBase, 2.0 * i / headDim);
                Assert.True(Math.Abs(table.Cos(p, i) - Math.Cos(angle)) <= 6e-8, $"cos p={p} i={i}");
                Assert.True(Math.Abs(table.Sin(p, i) - Math.Sin(angle)) <= 6e-8, $"sin p={p} i={i}");
            }
        }
    }

    /// <summary>Against the rotation computed in float64, on every path, with half widths that are not vector multiples.</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(6)]
    [InlineData(10)]
    [InlineData(64)]
    [InlineData(80)]
    [InlineData(128)]
    public void Rotate_MatchesTheFloat64RotationOnEveryPath(int headDim)
    {
        const int rows = 5, heads = 3, first = 11;
        int stride = heads * headDim + 4;
        using var table = new RotaryTable(headDim, 64);
        float[] x = TestData.Uniform(rows * stride, headDim);
        double[] expected = Reference(x, rows, stride, heads, headDim, first, 10000, sign: 1);
        foreach (KernelIsa isa in KernelIsaSupport.Supported)
        {
            float[] actual = (float[])x.Clone();
            table.Rotate(actual, rows, stride, heads, first, isa);
            for (int i = 0; i < x.Length; i++)
            {
                Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-6, $"{isa}: x[{i}] = {actual[i]}, expected {expected[i]}");
            }
            actual = (float[])x.Clone();
            table.RotateBack(actual, rows, stride, heads, first, isa);
            double[] back = Reference(x, rows, stride, heads, headDim, first, 10000, sign: -1);
            for (int i = 0; i < x.Length; i++)
            {
                Assert.True(Math.Abs(actual[i] - back[i]) <= 1e-6, $"{isa} back: x[{i}] = {actual[i]}, expected {back[i]}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestSupport.SupportedIsas), MemberType = typeof(TestSupport))]
    public void Rotation_PreservesNormsAndRotateBackUndoesIt(KernelIsa isa)
    {
        const int headDim = 48, rows = 20, heads = 2;
        using var table = new RotaryTable(headDim, 2048);
        float[] x = TestData.Uniform(rows * heads * headDim, 3), y = (float[])x.Clone();
        table.Rotate(y, rows, heads * headDim, heads, 2000, isa);
        for (int v = 0; v < rows * heads; v++)
        {
            double before = Norm(x.AsSpan(v * headDim, headDim)), after = Norm(y.AsSpan(v * headDim, headDim));
            Assert.True(Math.Abs(after - before) <= 1e-6 * before, $"vector {v}: norm {before} -> {after}");
        }
        Assert.NotEqual(x, y);
        table.RotateBack(y, rows, heads * headDim, heads, 2000, isa);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.True(Math.Abs(y[i] - x[i]) <= 1e-6, $"x[{i}] = {x[i]}, back {y[i]}");
        }
    }

    /// <summary>The closed form of one plane's rotation: e_i turns into cos(pθ_i)·e_i + sin(pθ_i)·e_{i+D/2}.</summary>
    [Fact]
    public void UnitVector_TurnsWithinItsPairOnly()
    {
        const int headDim = 16;
        using var table = new RotaryTable(headDim, 100);
        foreach (int i in new[] { 0, 3, 7 })
        {
            var x = new float[headDim];
            x[i] = 1f;
            table.Rotate(x, 1, headDim, 1, 37);
            double theta = Math.Pow(10000, -2.0 * i / headDim);
            for (int e = 0; e < headDim; e++)
            {
                double expected = e == i ? Math.Cos(37 * theta) : e == i + headDim / 2 ? Math.Sin(37 * theta) : 0;
                Assert.True(Math.Abs(x[e] - expected) <= 1e-7, $"i={i}, e={e}: {x[e]} vs {expected}");
            }
        }
    }

    /// <summary>Scores of rotated queries and keys depend only on the distance between positions.</summary>
    [Fact]
    public void DotProduct_DependsOnlyOnRelativePosition()
    {
        const int headDim = 32;
        using var table = new RotaryTable(headDim, 600);
        float[] q = TestData.Uniform(headDim, 1), k = TestData.Uniform(headDim, 2);
        double Score(int pq, int pk)
        {
            float[] a = (float[])q.Clone(), b = (float[])k.Clone();
            table.Rotate(a, 1, headDim, 1, pq);
            table.Rotate(b, 1, headDim, 1, pk);
            return Dot(a, b);
        }
        double atStart = Score(5, 0);
        foreach (int shift in new[] { 1, 90, 500 })
        {
            Assert.True(Math.Abs(Score(5 + shift, shift) - atStart) <= 1e-5, $"shift {shift}");
        }
    }

    /// <summary>RotateBack is the transpose of Rotate, so it carries gradients: g · R(x) = Rᵀ(g) · x.</summary>
    [Fact]
    public void RotateBack_IsTheTransposeForGradients()
    {
        const int headDim = 24, rows = 6;
        using var table = new RotaryTable(headDim, 50);
        float[] x = TestData.Uniform(rows * headDim, 7), g = TestData.Uniform(rows * headDim, 8);
        float[] rx = (float[])x.Clone(), rg = (float[])g.Clone();
        table.Rotate(rx, rows, headDim, 1, 40);
        table.RotateBack(rg, rows, headDim, 1, 40);
        Assert.True(Math.Abs(Dot(g, rx) - Dot(rg, x)) <= 1e-5);
    }

    [Fact]
    public void BadArguments_AreRefusedByName()
    {
        Assert.Equal("headDim", Assert.Throws<ArgumentOutOfRangeException>(() => new RotaryTable(7, 10)).ParamName);
        Assert.Equal("positions", Assert.Throws<ArgumentOutOfRangeException>(() => new RotaryTable(8, 0)).ParamName);
        Assert.Equal("rotaryBase", Assert.Throws<ArgumentOutOfRangeException>(() => new RotaryTable(8, 10, 1.0)).ParamName);
        using var table = new RotaryTable(8, 10);
        var x = new float[3 * 16];
        var past = Assert.Throws<ArgumentOutOfRangeException>(() => table.Rotate(x, 3, 16, 2, 8));
        Assert.Equal("firstPosition", past.ParamName);
        Assert.Contains("expected 0..7", past.Message);
        Assert.Equal("rowStride", Assert.Throws<ArgumentOutOfRangeException>(() => table.Rotate(x, 3, 15, 2, 0)).ParamName);
        var shortSpan = Assert.Throws<ArgumentException>(() => table.Rotate(x.AsSpan(1), 3, 16, 2, 0));
        Assert.Equal("x", shortSpan.ParamName);
        Assert.All(x, v => Assert.Equal(0f, v));
    }

    private static double[] Reference(float[] x, int rows, int stride, int heads, int headDim, int first, double rotaryBase, int sign)
    {
        var result = x.Select(v => (double)v).ToArray();
        int half = headDim / 2;
        for (int r = 0; r < rows; r++)
        {
            for (int h = 0; h < heads; h++)
            {
                int at = r * stride + h * headDim;
                for (int i = 0; i < half; i++)
                {
                    double angle = sign * (first + r) * Math.Pow(rotaryBase, -2.0 * i / headDim);
                    double a = x[at + i], b = x[at + half + i];
                    result[at + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                    result[at + half + i] = b * Math.Cos(angle) + a * Math.Sin(angle);
                }
            }
        }
        return result;
    }

    private static double Norm(ReadOnlySpan<float> v)
    {
        double sum = 0;
        foreach (float e in v)
        {
            sum += (double)e * e;
        }
        return Math.Sqrt(sum);
    }

    private static double Dot(float[] a, float[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sum += (double)a[i] * b[i];
        }
        return sum;
    }
}
