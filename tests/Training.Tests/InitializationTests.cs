namespace AttnGen.Training.Tests;

public class InitializationTests
{
    [Theory]
    [InlineData(InitKind.XavierUniform, 100, 300, 0.0707)]   // var = a²/3 = 2 / 400, a = sqrt(6 / 400)
    [InlineData(InitKind.XavierNormal, 100, 300, 0.0707)]    // var = 2 / 400
    [InlineData(InitKind.KaimingUniform, 100, 300, 0.1414)]  // var = 2 / 100
    [InlineData(InitKind.KaimingNormal, 100, 300, 0.1414)]
    [InlineData(InitKind.StandardNormal, 100, 300, 1.0)]
    public void Standard_deviation_follows_the_rule(InitKind kind, int fanIn, int fanOut, double expectedStd)
    {
        var values = new float[fanIn * fanOut];
        var random = new SeededRandom(17);
        ParameterInit.Fill(values, kind, fanIn, fanOut, ref random);
        double mean = values.Average(v => (double)v);
        double std = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        Assert.True(Math.Abs(mean) < 0.02 * expectedStd + 1e-3, $"mean {mean}");
        Assert.True(Math.Abs(std - expectedStd) < 0.03 * expectedStd, $"std {std}, expected {expectedStd}");
    }

    [Fact]
    public void Same_seed_same_numbers()
    {
        using var a = new Linear(5, 3);
        using var b = new Linear(5, 3);
        a.ResetParameters(4, InitKind.KaimingUniform);
        b.ResetParameters(4, InitKind.KaimingUniform);
        Assert.Equal(a.Weight.ToArray(), b.Weight.ToArray());
        float bound = MathF.Sqrt(6f / 5);
        Assert.All(a.Weight.ToArray(), w => Assert.InRange(w, -bound, bound));
    }
}
