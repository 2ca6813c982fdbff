namespace AttnGen.Runtime.Tests.Validation;

/// <summary>The span-overlap checks: exact in-place use where allowed, every other shared float rejected.</summary>
public sealed class OverlapGuardTests
{
    private readonly float[] _buffer = new float[100];

    [Fact]
    public void InPlace_IsAllowed_ButAShiftedOrShorterOutputIsNot()
    {
        Guard.InPlaceOrDisjoint(_buffer, _buffer, "input", "output");
        Guard.InPlaceOrDisjoint(_buffer.AsSpan(0, 50), _buffer.AsSpan(50, 50), "input", "output");

        var shifted = Assert.Throws<ArgumentException>(() => Guard.InPlaceOrDisjoint(_buffer.AsSpan(0, 50), _buffer.AsSpan(49, 50), "input", "output"));
        Assert.Equal("output", shifted.ParamName);
        Assert.Equal("'output' (50 floats) overlaps 'input' (50 floats): 'input' starts 49 floats before the start of 'output'. " +
            "A span the call writes must be the same span as 'input' (in place), or memory of its own. (Parameter 'output')", shifted.Message);

        Assert.Throws<ArgumentException>(() => Guard.InPlaceOrDisjoint(_buffer.AsSpan(0, 50), _buffer.AsSpan(0, 49), "input", "output"));
    }

    [Fact]
    public void OutputDisjoint_NamesTheInputItTouches()
    {
        Guard.OutputDisjoint(_buffer.AsSpan(0, 10), _buffer.AsSpan(10, 10), _buffer.AsSpan(10, 10), _buffer.AsSpan(20, 10));
        var e = Assert.Throws<ArgumentException>(() => Guard.OutputDisjoint(_buffer.AsSpan(0, 10), _buffer.AsSpan(10, 10), _buffer.AsSpan(20, 10), _buffer.AsSpan(9, 10)));
        Assert.StartsWith("'output' (10 floats) overlaps 'value' (10 floats): 'value' starts 9 floats after the start of 'output'.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GradientsDisjoint_ChecksEveryPair_AndIgnoresEmptySpans()
    {
        Span<float> b = _buffer;
        Guard.GradientsDisjoint(b[..10], b[10..20], [], []);
        Guard.GradientsDisjoint(b[..10], b[10..20], b[20..30], b[30..40]);
        Assert.Equal("queryGrad", Assert.Throws<ArgumentException>(() => Guard.GradientsDisjoint(_buffer.AsSpan(0, 10), _buffer.AsSpan(5, 10), [], [])).ParamName);
        Assert.Equal("keyGrad", Assert.Throws<ArgumentException>(() => Guard.GradientsDisjoint(_buffer.AsSpan(0, 10), _buffer.AsSpan(10, 10), _buffer.AsSpan(19, 10), [])).ParamName);
        Assert.Equal("valueGrad", Assert.Throws<ArgumentException>(() => Guard.GradientsDisjoint(_buffer.AsSpan(0, 10), _buffer.AsSpan(10, 10), _buffer.AsSpan(20, 10), _buffer.AsSpan(29, 10))).ParamName);
        Assert.Equal("valueGrad", Assert.Throws<ArgumentException>(() => Guard.GradientsDisjoint(_buffer.AsSpan(0, 10), _buffer.AsSpan(10, 10), _buffer.AsSpan(20, 10), _buffer.AsSpan(20, 10))).ParamName);
    }
}
