namespace CharLM.Generation;

/// <summary>Generated texts (prompt excluded) and the speed: characters generated over all sequences per second.</summary>
internal sealed record GenerationResult(string[] Texts, int Tokens, double Seconds)
{
    public double TokensPerSecond => Tokens / Seconds;
}
