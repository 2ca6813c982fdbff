using AttnGen;
using CharLM.Data;

namespace CharLM.Generation;

/// <summary>
/// What a generator keeps while it writes a batch of sequences: each sequence's context window (started with
/// its prompt), the logits of the next character <c>[batch, Vocabulary]</c> for the model to fill, the seeded
/// sampler and the characters drawn so far. The recomputing and the cached generator share it, so with the
/// same seed and equal logits they draw the same characters.
/// </summary>
internal sealed class SamplingState
{
    private readonly float _temperature;
    private readonly float[] _scratch;
    private readonly int[][] _generated;
    private SeededRandom _random;

    public SamplingState(IReadOnlyList<int[]> prompts, int seqLen, int vocabulary, int length, float temperature, ulong seed)
    {
        Contexts = new ContextWindow[prompts.Count];
        for (int b = 0; b < prompts.Count; b++)
        {
            Contexts[b] = new ContextWindow(seqLen);
            foreach (int id in prompts[b])
            {
                Contexts[b].Append(id); // a prompt longer than SeqLen keeps its end
            }
        }
        Logits = new float[prompts.Count * vocabulary];
        _scratch = new float[vocabulary];
        _generated = new int[prompts.Count][];
        for (int b = 0; b < prompts.Count; b++)
        {
            _generated[b] = new int[length];
        }
        (Vocabulary, _temperature, _random) = (vocabulary, temperature, new SeededRandom(seed));
    }

    public ContextWindow[] Contexts { get; }

    public int Batch => Contexts.Length;

    public int Vocabulary { get; }

    /// <summary>The next character's logits per sequence, <c>[Batch, Vocabulary]</c>, for the model to write.</summary>
    public float[] Logits { get; }

    /// <summary>Draws character <paramref name="t"/> of sequence <paramref name="b"/> from its logits, records it and appends it to its context.</summary>
    public int Draw(int b, int t)
    {
        int next = Sampler.Sample(Logits.AsSpan(b * Vocabulary, Vocabulary), _temperature, ref _random, _scratch);
        _generated[b][t] = next;
        Contexts[b].Append(next);
        return next;
    }

    /// <summary>The texts drawn and the speed over <paramref name="seconds"/>.</summary>
    public GenerationResult Result(CharVocabulary vocabulary, double seconds)
        => new(_generated.Select(g => vocabulary.Decode(g)).ToArray(), Batch * _generated[0].Length, seconds);
}
