using CharLM.Data;
using CharLM.Evaluation;
using CharLM.Generation;
using CharLM.Model;
using CharLM.Training;

namespace AttnGen.Training.Tests;

/// <summary>A small causal layer for the language-model tests: 16 characters of context, width 16.</summary>
[AttentionLayer(heads: 2, headDim: 8, seqLen: 16, Causal = true)]
public partial class TinyCausalAttention : ICausalAttention;

/// <summary>The CharLM sample's model and training step on a synthetic corpus, without the network.</summary>
public class CharLmTests
{
    private const int SeqLen = TinyCausalAttention.SeqLen;
    private const int ModelDim = TinyCausalAttention.ModelDim;

    // A text with structure at several ranges: words from a small lexicon in a seeded order.
    private static string SyntheticText(int words, ulong seed)
    {
        string[] lexicon = ["the ", "cat ", "sat ", "on ", "a ", "mat. ", "dogs ", "run ", "far "];
        var random = new SeededRandom(seed);
        return string.Concat(Enumerable.Range(0, words).Select(_ => lexicon[random.NextInt(lexicon.Length)]));
    }

    private static CharTransformer Model(int vocabulary, int maxBatch, ulong seed)
    {
        var model = new CharTransformer(() => new TinyCausalAttention(), TinyCausalAttention.ParameterList, vocabulary, SeqLen, ModelDim,
            hidden: 32, blocks: 2, maxBatch);
        model.ResetParameters(seed);
        return model;
    }

    [Fact]
    public void Training_steps_lower_the_held_out_loss_of_a_synthetic_corpus()
    {
        CharVocabulary vocabulary = CharVocabulary.Build(SyntheticText(2000, 1));
        int[] train = vocabulary.Encode(SyntheticText(2000, 1));
        (int[] inputs, int[] targets) = Windows.Spread(vocabulary.Encode(SyntheticText(300, 2)), SeqLen, 8);
        CharTransformer[] replicas = [Model(vocabulary.Count, 4, 5), Model(vocabulary.Count, 4, 5)];
        try
        {
            var model = new DataParallelModel(replicas);
            using var optimizer = new AdamW(model.Parameters, 1e-2f);
            var trainer = new Trainer<TextBatch>(model, optimizer, 1f);
            double before = model.Loss(inputs, targets, 0, 8);
            var ids = new int[8 * SeqLen];
            var next = new int[8 * SeqLen];
            var random = new SeededRandom(3);
            for (int step = 0; step < 150; step++)
            {
                Windows.Sample(train, SeqLen, ref random, ids, next);
                trainer.Step(new TextBatch(ids, next, 8));
            }
            double after = model.Loss(inputs, targets, 0, 8);
            // Uniform guessing over the alphabet costs ln(V) nats; the word-level structure is learnable well below half of it.
            Assert.InRange(before, 0.8 * Math.Log(vocabulary.Count), 1.5 * Math.Log(vocabulary.Count));
            Assert.True(after < 0.5 * before, $"held-out loss {before:F3} -> {after:F3} nats/char");
        }
        finally
        {
            foreach (CharTransformer r in replicas)
            {
                r.Dispose();
            }
        }
    }

    [Fact]
    public void Data_parallel_step_gives_the_single_model_gradient()
    {
        CharVocabulary vocabulary = CharVocabulary.Build(SyntheticText(400, 1));
        int[] text = vocabulary.Encode(SyntheticText(400, 1));
        var ids = new int[5 * SeqLen];
        var next = new int[5 * SeqLen];
        var random = new SeededRandom(9);
        Windows.Sample(text, SeqLen, ref random, ids, next);
        using CharTransformer single = Model(vocabulary.Count, 5, 7);
        using CharTransformer first = Model(vocabulary.Count, 3, 7), second = Model(vocabulary.Count, 3, 8);
        // The second replica starts from other parameters: the step must copy the first one's over.
        var parallel = new DataParallelModel([first, second]);
        single.Parameters.ZeroGradients();
        parallel.Parameters.ZeroGradients();
        float singleLoss = single.ForwardBackward(new TextBatch(ids, next, 5));
        float parallelLoss = parallel.ForwardBackward(new TextBatch(ids, next, 5));
        Assert.Equal(singleLoss, parallelLoss, 1e-5f);
        for (int p = 0; p < single.Parameters.Count; p++)
        {
            Span<float> expected = single.Parameters[p].Gradient, actual = parallel.Parameters[p].Gradient;
            double scale = Math.Max(1e-3, System.Numerics.Tensors.TensorPrimitives.MaxMagnitude<float>(expected));
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * scale, $"{single.Parameters[p].Name}[{i}]: {actual[i]} vs {expected[i]}");
            }
        }
    }

    [Fact]
    public void Next_logits_do_not_depend_on_positions_past_the_prefix()
    {
        using CharTransformer model = Model(12, 2, 3);
        var ids = new int[2 * SeqLen];
        var other = new int[2 * SeqLen];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = i % 12;
            other[i] = i % SeqLen < 5 ? ids[i] : (7 * i + 3) % 12; // the same first 5 positions, then different ids
        }
        var a = new float[2 * 12];
        var b = new float[2 * 12];
        model.NextLogits(ids, [5, 5], 2, a);
        model.NextLogits(other, [5, 5], 2, b);
        Assert.Equal(a, b);
        model.NextLogits(ids, [6, 5], 2, b);
        Assert.NotEqual(a.AsSpan(0, 12).ToArray(), b.AsSpan(0, 12).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>("lengths", () => model.NextLogits(ids, [0, 5], 2, b));
    }

    [Fact]
    public void Bigram_baseline_counts_pairs_with_add_one_smoothing()
    {
        // "aab" with ids a=1, b=2 and V = 3: pairs (a,a), (a,b); count(a) = 2, count(b) = 0.
        var bigram = new BigramModel([1, 1, 2], 3);
        Assert.Equal(2.0 / 5, bigram.Probability(1, 1), 12);  // (1 + 1) / (2 + 3)
        Assert.Equal(1.0 / 5, bigram.Probability(1, 0), 12);  // (0 + 1) / (2 + 3)
        Assert.Equal(1.0 / 3, bigram.Probability(2, 0), 12);  // unseen first character: uniform
        Assert.Equal(-(Math.Log2(0.4) + Math.Log2(1.0 / 3)) / 2, bigram.BitsPerCharacter([1, 2], [2, 1]), 12);
        Assert.Equal("targets", Assert.Throws<ArgumentException>(() => bigram.BitsPerCharacter([1], [1, 2])).ParamName);
    }

    [Fact]
    public void Context_window_keeps_its_newest_half_when_full()
    {
        var window = new ContextWindow(4);
        foreach (int id in new[] { 1, 2, 3, 4 })
        {
            window.Append(id);
        }
        Assert.True(window.IsFull);
        window.Append(5);
        Assert.Equal([3, 4, 5], window.Ids.ToArray());
    }

    [Fact]
    public void Sampling_is_seeded_and_temperature_zero_takes_the_largest_logit()
    {
        float[] logits = [0.5f, 2f, -1f, 1.9f];
        var scratch = new float[4];
        var random = new SeededRandom(1);
        Assert.Equal(1, Sampler.Sample(logits, 0f, ref random, scratch));
        int[] Draws(ulong seed)
        {
            var r = new SeededRandom(seed);
            return Enumerable.Range(0, 400).Select(_ => Sampler.Sample(logits, 1f, ref r, scratch)).ToArray();
        }
        Assert.Equal(Draws(4), Draws(4));
        Assert.Equal([0, 1, 2, 3], Draws(4).Distinct().Order().ToArray()); // temperature 1 reaches every character in 400 draws
        Assert.Throws<ArgumentOutOfRangeException>("temperature", () => Sampler.Sample(logits, -1f, ref random, scratch));
    }
}
