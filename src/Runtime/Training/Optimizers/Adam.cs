namespace AttnGen.Training;

/// <summary>
/// Adam (Kingma and Ba) with bias correction, as PyTorch's <c>torch.optim.Adam</c>:
/// <c>g = grad + wd·w;  m = β1·m + (1-β1)·g;  v = β2·v + (1-β2)·g²;
/// w -= lr/(1-β1ᵗ) · m / (sqrt(v)/sqrt(1-β2ᵗ) + ε)</c>.
/// Its weight decay is the classic L2 penalty folded into the gradient; <see cref="AdamW"/> decouples it.
/// </summary>
public class Adam : Optimizer
{
    /// <summary>Registers <paramref name="parameters"/>; the two moment buffers are allocated here.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is out of range.</exception>
    public Adam(ParameterSet parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0f)
        : this(parameters, learningRate, beta1, beta2, epsilon, weightDecay, decoupled: false)
    {
    }

    private protected Adam(ParameterSet parameters, float learningRate, float beta1, float beta2, float epsilon, float weightDecay, bool decoupled)
        : base(parameters, learningRate, 2)
    {
        Beta1 = InUnitInterval(beta1, nameof(beta1));
        Beta2 = InUnitInterval(beta2, nameof(beta2));
        ArgumentOutOfRangeException.ThrowIfNegative(epsilon);
        ArgumentOutOfRangeException.ThrowIfNegative(weightDecay);
        Epsilon = epsilon;
        WeightDecay = weightDecay;
        DecoupledWeightDecay = decoupled;
    }

    /// <summary>Decay rate of the first-moment estimate.</summary>
    public float Beta1 { get; }

    /// <summary>Decay rate of the second-moment estimate.</summary>
    public float Beta2 { get; }

    /// <summary>Added to the denominator for numerical stability.</summary>
    public float Epsilon { get; }

    /// <summary>Weight decay: an L2 penalty in <see cref="Adam"/>, decoupled in <see cref="AdamW"/>.</summary>
    public float WeightDecay { get; }

    /// <summary>Whether weight decay is applied directly to the weights (AdamW) instead of through the gradient.</summary>
    public bool DecoupledWeightDecay { get; }

    /// <inheritdoc/>
    protected override void Update(int index, Span<float> value, ReadOnlySpan<float> gradient)
    {
        Span<float> m = State(index, 0);
        Span<float> v = State(index, 1);
        long t = StepCount;
        float lr = LearningRate;
        float b1 = Beta1, b2 = Beta2, eps = Epsilon;
        float stepSize = (float)(lr / (1 - Math.Pow(b1, t)));
        float invSqrtCorrection2 = (float)(1 / Math.Sqrt(1 - Math.Pow(b2, t)));
        float l2 = DecoupledWeightDecay ? 0f : WeightDecay;
        float shrink = DecoupledWeightDecay ? 1f - lr * WeightDecay : 1f;
        // Vectors first, then the tail with the same operations in the same order (so every element gets the
        // identical float result whichever loop handles it).
        int i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated && value.Length >= System.Numerics.Vector<float>.Count)
        {
            var vb1 = new System.Numerics.Vector<float>(b1);
            var vb2 = new System.Numerics.Vector<float>(b2);
            var vc1 = new System.Numerics.Vector<float>(1 - b1);
            var vc2 = new System.Numerics.Vector<float>(1 - b2);
            var vl2 = new System.Numerics.Vector<float>(l2);
            var vShrink = new System.Numerics.Vector<float>(shrink);
            var vStep = new System.Numerics.Vector<float>(stepSize);
            var vCorrection = new System.Numerics.Vector<float>(invSqrtCorrection2);
            var vEps = new System.Numerics.Vector<float>(eps);
            int width = System.Numerics.Vector<float>.Count;
            for (; i <= value.Length - width; i += width)
            {
                var w = new System.Numerics.Vector<float>(value.Slice(i));
                var g = new System.Numerics.Vector<float>(gradient.Slice(i)) + vl2 * w;
                var mi = vb1 * new System.Numerics.Vector<float>(m.Slice(i)) + vc1 * g;
                var vi = vb2 * new System.Numerics.Vector<float>(v.Slice(i)) + vc2 * g * g;
                mi.CopyTo(m.Slice(i));
                vi.CopyTo(v.Slice(i));
                (w * vShrink - vStep * mi / (System.Numerics.Vector.SquareRoot(vi) * vCorrection + vEps)).CopyTo(value.Slice(i));
            }
        }
        for (; i < value.Length; i++)
        {
            float g = gradient[i] + l2 * value[i];
            float mi = b1 * m[i] + (1 - b1) * g;
            float vi = b2 * v[i] + (1 - b2) * g * g;
            m[i] = mi;
            v[i] = vi;
            value[i] = value[i] * shrink - stepSize * mi / (MathF.Sqrt(vi) * invSqrtCorrection2 + eps);
        }
    }
}

/// <summary>
/// AdamW (Loshchilov and Hutter): Adam whose weight decay is decoupled from the gradient, applied as
/// <c>w -= lr·wd·w</c> before the Adam update, as PyTorch's <c>torch.optim.AdamW</c>.
/// </summary>
public sealed class AdamW : Adam
{
    /// <summary>Registers <paramref name="parameters"/>; the two moment buffers are allocated here.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is out of range.</exception>
    public AdamW(ParameterSet parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0.01f)
        : base(parameters, learningRate, beta1, beta2, epsilon, weightDecay, decoupled: true)
    {
    }
}
