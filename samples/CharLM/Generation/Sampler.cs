using System.Numerics.Tensors;
using AttnGen;

namespace CharLM.Generation;

/// <summary>Draws the next character from logits: softmax at a temperature, by a seeded generator (temperature 0: the most likely).</summary>
internal static class Sampler
{
    /// <summary>One id drawn from <c>softmax(logits / temperature)</c>; <paramref name="scratch"/> is as long as <paramref name="logits"/>.</summary>
    public static int Sample(ReadOnlySpan<float> logits, float temperature, ref SeededRandom random, Span<float> scratch)
    {
        if (!(temperature >= 0) || float.IsInfinity(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, $"'temperature' is {temperature}; expected a finite value of 0 or more.");
        }
        if (temperature == 0)
        {
            return TensorPrimitives.IndexOfMax(logits);
        }
        Span<float> p = scratch.Slice(0, logits.Length);
        TensorPrimitives.Subtract(logits, TensorPrimitives.Max(logits), p);
        TensorPrimitives.Multiply(p, 1f / temperature, p);
        TensorPrimitives.Exp(p, p);
        double u = random.NextDouble() * TensorPrimitives.Sum<float>(p);
        double cumulative = 0;
        for (int i = 0; i < p.Length; i++)
        {
            cumulative += p[i];
            if (u < cumulative)
            {
                return i;
            }
        }
        return TensorPrimitives.IndexOfMax(p); // rounding left u at the very top
    }
}
