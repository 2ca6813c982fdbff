using TextClassification.Model;

namespace AttnGen.Training.Tests;

public class TrainerTests
{
    private const int Batch = 4;
    private static readonly int[] Valid = [10, 7, 1, 4];
    private static readonly int[] Labels = [0, 1, 1, 0];

    private static int[] Ids(ulong seed)
    {
        var ids = new int[Batch * SyntheticAttention.SeqLen];
        var random = new SeededRandom(seed);
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = 1 + random.NextInt(19);
        }
        return ids;
    }

    [Fact]
    public void Step_matches_zero_grad_forward_backward_clip_and_update_done_by_hand()
    {
        int[] ids = Ids(5);
        using var byTrainer = TestModels.Create(withAttention: true, vocabulary: 20, maxBatch: Batch, seed: 3);
        using var byHand = TestModels.Create(withAttention: true, vocabulary: 20, maxBatch: Batch, seed: 3);
        using var trainerOptimizer = new AdamW(byTrainer.Parameters, 1e-2f);
        using var handOptimizer = new AdamW(byHand.Parameters, 1e-2f);
        var trainer = new Trainer<TokenBatch>(byTrainer, trainerOptimizer, maxGradientNorm: 0.5f);

        for (int step = 0; step < 3; step++)
        {
            float loss = trainer.Step(new TokenBatch(ids, Valid, Labels, Batch));

            handOptimizer.ZeroGrad();
            float expectedLoss = byHand.ForwardBackward(ids, Valid, Labels, Batch);
            float expectedNorm = GradientClipping.ClipByGlobalNorm(byHand.Parameters, 0.5f);
            handOptimizer.Step();

            Assert.Equal(expectedLoss, loss);
            Assert.Equal(expectedNorm, trainer.LastGradientNorm);
            Assert.Equal(step + 1, trainer.Steps);
        }
        foreach ((Parameter a, Parameter b) in byTrainer.Parameters.Zip(byHand.Parameters))
        {
            Assert.True(a.Value.SequenceEqual(b.Value), $"{a.Name} differs");
        }
    }

    [Fact]
    public void A_non_finite_loss_throws_and_updates_nothing()
    {
        int[] ids = Ids(7);
        using var model = TestModels.Create(withAttention: true, vocabulary: 20, maxBatch: Batch, seed: 3);
        using var optimizer = new AdamW(model.Parameters, 1e-2f);
        var trainer = new Trainer<TokenBatch>(model, optimizer);
        trainer.Step(new TokenBatch(ids, Valid, Labels, Batch));
        float[][] before = model.Parameters.Select(p => p.Value.ToArray()).ToArray();

        Parameter last = model.Parameters[model.Parameters.Count - 1]; // the classifier's: every sequence's logits use it
        float[] saved = last.Value.ToArray();
        last.Value.Fill(float.NaN);
        Assert.Throws<NonFiniteTrainingException>(() => trainer.Step(new TokenBatch(ids, Valid, Labels, Batch)));
        saved.CopyTo(last.Value);

        Assert.Equal(1, trainer.Steps);
        Assert.Equal(1, optimizer.StepCount);
        int i = 0;
        foreach (Parameter p in model.Parameters)
        {
            Assert.True(p.Value.SequenceEqual(before[i++]), $"{p.Name} changed");
        }
    }

    [Fact]
    public void Rejects_a_gradient_norm_limit_that_is_not_positive()
    {
        using var model = TestModels.Create(withAttention: false, vocabulary: 20, maxBatch: Batch, seed: 3);
        using var optimizer = new Sgd(model.Parameters, 0.1f);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer<TokenBatch>(model, optimizer, 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer<TokenBatch>(model, optimizer, float.NaN));
    }
}
