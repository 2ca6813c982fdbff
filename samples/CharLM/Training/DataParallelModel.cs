using System.Numerics.Tensors;
using AttnGen.Training;
using CharLM.Model;

namespace CharLM.Training;

/// <summary>
/// Data parallelism over replicas of one model, one per core: a step splits the batch's windows across the
/// replicas, runs them at once, and sums their gradients into the first replica, whose parameters are the
/// ones the optimizer updates; the others copy them before each step. The result is the gradient of the
/// mean loss over the whole batch, as one model would compute it (to float rounding).
/// </summary>
internal sealed class DataParallelModel : ITrainableModel<TextBatch>
{
    private readonly CharTransformer[] _replicas;

    /// <param name="replicas">Models of the same shape; each runs its attention on one thread.</param>
    public DataParallelModel(IReadOnlyList<CharTransformer> replicas)
    {
        ArgumentOutOfRangeException.ThrowIfZero(replicas.Count);
        _replicas = [.. replicas];
        foreach (CharTransformer replica in _replicas)
        {
            if (replica.Parameters.ElementCount != _replicas[0].Parameters.ElementCount || replica.SeqLen != _replicas[0].SeqLen)
            {
                throw new ArgumentException("The replicas differ in shape.", nameof(replicas));
            }
            replica.AttentionThreads = 1;
        }
    }

    /// <summary>The first replica's parameters: the ones to optimise and save.</summary>
    public ParameterSet Parameters => _replicas[0].Parameters;

    public int SeqLen => _replicas[0].SeqLen;

    /// <summary>Most windows a step takes: every replica's batch.</summary>
    public int MaxBatch => _replicas.Sum(r => r.MaxBatch);

    public float ForwardBackward(scoped in TextBatch batch)
    {
        int used = Math.Min(_replicas.Length, batch.Count);
        (int start, int count)[] parts = Split(batch.Count, used);
        CopyParameters(used);
        var losses = new float[used];
        TextBatch whole = batch;
        Parallel.For(0, used, r =>
        {
            if (r > 0)
            {
                _replicas[r].Parameters.ZeroGradients();
            }
            losses[r] = _replicas[r].ForwardBackward(whole.Slice(parts[r].start, parts[r].count, SeqLen));
        });

        // Each replica's gradient is of its own mean; the batch mean weighs them by their share of windows.
        ParameterSet target = Parameters;
        double loss = 0;
        for (int r = 0; r < used; r++)
        {
            float share = parts[r].count / (float)batch.Count;
            loss += share * losses[r];
            for (int p = 0; p < target.Count; p++)
            {
                Span<float> sum = target[p].Gradient;
                if (r == 0)
                {
                    TensorPrimitives.Multiply(sum, share, sum);
                }
                else
                {
                    TensorPrimitives.MultiplyAdd(_replicas[r].Parameters[p].Gradient, share, sum, sum);
                }
            }
        }
        return (float)loss;
    }

    /// <summary>Mean next-character cross-entropy (nats) of windows <paramref name="first"/> .. <paramref name="first"/> + <paramref name="count"/> - 1, spread over the replicas.</summary>
    public double Loss(int[] ids, int[] targets, int first, int count)
    {
        int used = Math.Min(_replicas.Length, count);
        (int start, int count)[] parts = Split(count, used);
        CopyParameters(used);
        var losses = new double[used];
        int seqLen = SeqLen;
        Parallel.For(0, used, r =>
        {
            int offset = (first + parts[r].start) * seqLen, length = parts[r].count * seqLen;
            losses[r] = _replicas[r].Loss(ids.AsSpan(offset, length), targets.AsSpan(offset, length), parts[r].count);
        });
        double total = 0;
        for (int r = 0; r < used; r++)
        {
            total += losses[r] * parts[r].count / count;
        }
        return total;
    }

    // Contiguous parts as equal as can be, the larger ones first.
    private static (int Start, int Count)[] Split(int total, int parts)
    {
        var result = new (int, int)[parts];
        int start = 0;
        for (int r = 0; r < parts; r++)
        {
            int count = total / parts + (r < total % parts ? 1 : 0);
            result[r] = (start, count);
            start += count;
        }
        return result;
    }

    private void CopyParameters(int replicas)
    {
        ParameterSet source = Parameters;
        for (int r = 1; r < replicas; r++)
        {
            for (int p = 0; p < source.Count; p++)
            {
                source[p].Value.CopyTo(_replicas[r].Parameters[p].Value);
            }
        }
    }
}
