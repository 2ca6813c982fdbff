using TextClassification.Model;

namespace AttnGen.Training.Tests;

public class AllocationTests
{
    [Fact]
    public void A_training_step_allocates_nothing_in_steady_state()
    {
        const int batch = 4;
        using var model = TestModels.Create(withAttention: true, vocabulary: 20, maxBatch: batch, seed: 3);
        using var optimizer = new AdamW(model.Parameters, 1e-3f);
        var ids = new int[batch * SyntheticAttention.SeqLen];
        var random = new SeededRandom(1);
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = 1 + random.NextInt(19);
        }
        int[] valid = [10, 7, 1, 4];
        int[] labels = [0, 1, 1, 0];

        var trainer = new Trainer<TokenBatch>(model, optimizer, maxGradientNorm: 1f);
        void Step() => trainer.Step(new TokenBatch(ids, valid, labels, batch));

        for (int i = 0; i < 3; i++)
        {
            Step(); // first calls size the saved-activation buffers and JIT the code
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        Step();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }
}
