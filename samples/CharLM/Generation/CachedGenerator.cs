using System.Diagnostics;
using AttnGen;
using CharLM.Data;
using CharLM.Model;

namespace CharLM.Generation;

/// <summary>
/// Generation with a key/value cache per block: the prompts are run once as one chunk (prefill), then each
/// new character runs the model on one row per sequence, and each block's attention appends that row's
/// keys and values to its cache and attends over everything cached. When the context is full, the window
/// keeps its newest half (as <see cref="ContextWindow"/> does) and the caches are re-filled with it.
/// </summary>
internal static class CachedGenerator
{
    /// <summary>Continues each prompt by <paramref name="length"/> characters; the prompts must be equally long (a cache advances its sequences together).</summary>
    public static GenerationResult Generate(CharTransformer model, CharVocabulary vocabulary, IReadOnlyList<int[]> prompts, int length, float temperature, ulong seed)
    {
        int batch = prompts.Count, seqLen = model.SeqLen, classes = model.Vocabulary, dim = model.ModelDim;
        if (prompts.Any(p => p.Length != prompts[0].Length || p.Length == 0))
        {
            throw new ArgumentException($"The prompts have lengths {string.Join(", ", prompts.Select(p => p.Length))}; expected one length of at least 1 for all.", nameof(prompts));
        }
        var state = new SamplingState(prompts, seqLen, classes, length, temperature, seed);
        KvCache[] caches = model.Blocks.Select(b => ((CharAttention)b.Attention).CreateCache(batch)).ToArray();
        using var x = new AlignedBuffer(batch * seqLen * dim);
        using var y = new AlignedBuffer(batch * seqLen * dim);
        using var attentionInput = new AlignedBuffer(batch * seqLen * dim);
        using var attended = new AlignedBuffer(batch * seqLen * dim);
        var work = new StepBuffers(x, y, attentionInput, attended, new int[batch * seqLen], new int[batch * seqLen]);
        try
        {
            var clock = Stopwatch.StartNew();
            Prefill(model, caches, state, work);
            for (int t = 0; t < length; t++)
            {
                bool slides = state.Contexts[0].IsFull;
                for (int b = 0; b < batch; b++)
                {
                    work.Ids[b] = state.Draw(b, t);
                    work.Positions[b] = state.Contexts[b].Length - 1;
                }
                if (t == length - 1)
                {
                    break;
                }
                if (slides)
                {
                    Prefill(model, caches, state, work);
                }
                else
                {
                    Run(model, caches, work, batch, tokens: 1, state.Logits);
                }
            }
            return state.Result(vocabulary, clock.Elapsed.TotalSeconds);
        }
        finally
        {
            foreach (KvCache cache in caches)
            {
                cache.Dispose();
            }
        }
    }

    /// <summary>Empties the caches and runs every sequence's whole context as one chunk.</summary>
    private static void Prefill(CharTransformer model, KvCache[] caches, SamplingState state, StepBuffers work)
    {
        ContextWindow[] contexts = state.Contexts;
        int tokens = contexts[0].Length;
        for (int b = 0; b < contexts.Length; b++)
        {
            contexts[b].Ids.CopyTo(work.Ids.AsSpan(b * tokens));
            for (int t = 0; t < tokens; t++)
            {
                work.Positions[b * tokens + t] = t;
            }
        }
        foreach (KvCache cache in caches)
        {
            cache.Reset();
        }
        Run(model, caches, work, contexts.Length, tokens, state.Logits);
    }

    /// <summary>
    /// The model on <paramref name="tokens"/> new positions of every sequence (rows <c>[batch, tokens]</c> of
    /// <c>work.Ids</c> and <c>work.Positions</c>): the row-wise parts on those rows only, each block's attention
    /// through its cache. Writes the logits of each sequence's last new row.
    /// </summary>
    private static void Run(CharTransformer model, KvCache[] caches, StepBuffers work, int batch, int tokens, Span<float> logits)
    {
        int rows = batch * tokens, dim = model.ModelDim, n = rows * dim;
        Span<float> x = work.X.Slice(0, n), y = work.Y.Slice(0, n);
        Span<float> attentionInput = work.AttentionInput.Slice(0, n), attended = work.Attended.Slice(0, n);
        model.Embed(work.Ids.AsSpan(0, rows), work.Positions.AsSpan(0, rows), x);
        for (int i = 0; i < model.Blocks.Count; i++)
        {
            TransformerBlock block = model.Blocks[i];
            block.AttentionInput(x, attentionInput, rows);
            ((CharAttention)block.Attention).Forward(attentionInput, attended, caches[i], tokens);
            block.FinishRows(x, attended, y, rows);
            Span<float> swap = x;
            x = y;
            y = swap;
        }
        for (int b = 0; b < batch; b++)
        {
            model.Logits(x.Slice(((b + 1) * tokens - 1) * dim, dim), logits.Slice(b * model.Vocabulary, model.Vocabulary), 1);
        }
    }

    private sealed record StepBuffers(AlignedBuffer X, AlignedBuffer Y, AlignedBuffer AttentionInput, AlignedBuffer Attended, int[] Ids, int[] Positions);
}
