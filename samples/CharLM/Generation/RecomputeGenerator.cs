using System.Diagnostics;
using CharLM.Data;
using CharLM.Model;

namespace CharLM.Generation;

/// <summary>
/// Generation without a cache: every new character runs the full causal forward over the sequence's whole
/// context (a SeqLen buffer; rows past the context cannot change its rows) and reads the logits of its last
/// row. The batch's sequences share each forward.
/// </summary>
internal static class RecomputeGenerator
{
    /// <summary>Continues each prompt by <paramref name="length"/> characters.</summary>
    public static GenerationResult Generate(CharTransformer model, CharVocabulary vocabulary, IReadOnlyList<int[]> prompts, int length, float temperature, ulong seed)
    {
        int seqLen = model.SeqLen;
        var state = new SamplingState(prompts, seqLen, model.Vocabulary, length, temperature, seed);
        var ids = new int[state.Batch * seqLen];
        var lengths = new int[state.Batch];
        var clock = Stopwatch.StartNew();
        for (int t = 0; t < length; t++)
        {
            for (int b = 0; b < state.Batch; b++)
            {
                state.Contexts[b].Ids.CopyTo(ids.AsSpan(b * seqLen));
                lengths[b] = state.Contexts[b].Length;
            }
            model.NextLogits(ids, lengths, state.Batch, state.Logits);
            for (int b = 0; b < state.Batch; b++)
            {
                state.Draw(b, t);
            }
        }
        return state.Result(vocabulary, clock.Elapsed.TotalSeconds);
    }
}
