namespace CharLM.Evaluation;

/// <summary>
/// The baseline: a character bigram model with add-one (Laplace) smoothing,
/// <c>P(b | a) = (count(a, b) + 1) / (count(a) + V)</c>, counted on the training ids.
/// </summary>
internal sealed class BigramModel
{
    private readonly long[] _pairs;
    private readonly long[] _firsts;

    public BigramModel(ReadOnlySpan<int> trainIds, int vocabulary)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabulary, 1);
        Vocabulary = vocabulary;
        _pairs = new long[vocabulary * vocabulary];
        _firsts = new long[vocabulary];
        for (int i = 0; i + 1 < trainIds.Length; i++)
        {
            _pairs[trainIds[i] * vocabulary + trainIds[i + 1]]++;
            _firsts[trainIds[i]]++;
        }
    }

    public int Vocabulary { get; }

    /// <summary>P(<paramref name="next"/> | <paramref name="previous"/>).</summary>
    public double Probability(int previous, int next)
        => (_pairs[previous * Vocabulary + next] + 1.0) / (_firsts[previous] + Vocabulary);

    /// <summary>Mean bits per character of predicting <c>targets[i]</c> after <c>previous[i]</c>.</summary>
    public double BitsPerCharacter(ReadOnlySpan<int> previous, ReadOnlySpan<int> targets)
    {
        if (previous.Length != targets.Length || targets.IsEmpty)
        {
            throw new ArgumentException($"'previous' has {previous.Length} ids and 'targets' {targets.Length}; expected the same number, at least 1.", nameof(targets));
        }
        double bits = 0;
        for (int i = 0; i < targets.Length; i++)
        {
            bits -= Math.Log2(Probability(previous[i], targets[i]));
        }
        return bits / targets.Length;
    }
}
