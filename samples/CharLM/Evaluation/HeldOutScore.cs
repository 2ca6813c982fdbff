using CharLM.Training;

namespace CharLM.Evaluation;

/// <summary>Bits per character of the model and of the bigram baseline on the same held-out windows.</summary>
internal sealed record HeldOutScore(double ModelBits, double BigramBits, int Characters)
{
    /// <summary>Scores both on <paramref name="inputs"/> / <paramref name="targets"/> (<c>[windows, SeqLen]</c>): every target character once.</summary>
    public static HeldOutScore Of(DataParallelModel model, BigramModel bigram, int[] inputs, int[] targets)
    {
        int seqLen = model.SeqLen, windows = targets.Length / seqLen;
        double nats = 0;
        for (int first = 0; first < windows; first += model.MaxBatch)
        {
            int count = Math.Min(model.MaxBatch, windows - first);
            nats += model.Loss(inputs, targets, first, count) * count;
        }
        // The bigram model predicts each target from the character before it, which is the window's input there.
        return new HeldOutScore(nats / windows / Math.Log(2), bigram.BitsPerCharacter(inputs, targets), targets.Length);
    }
}
