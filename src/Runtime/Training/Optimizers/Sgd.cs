namespace AttnGen.Training;

/// <summary>
/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay, as
/// PyTorch's <c>torch.optim.SGD</c> (no dampening):
/// <c>g = grad + wd·w;  b = μ·b + g;  w -= lr · (nesterov ? g + μ·b : b)</c>.
/// With <c>μ = 0</c> this is plain <c>w -= lr · g</c>.
/// </summary>
public sealed class Sgd : Optimizer
{
    /// <summary>Registers <paramref name="parameters"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A hyper-parameter is out of range.</exception>
    /// <exception cref="ArgumentException">Nesterov momentum without momentum.</exception>
    public Sgd(ParameterSet parameters, float learningRate, float momentum = 0f, bool nesterov = false, float weightDecay = 0f)
        : base(parameters, learningRate, momentum > 0 ? 1 : 0)
    {
        Momentum = InUnitInterval(momentum, nameof(momentum));
        if (nesterov && momentum == 0)
        {
            throw new ArgumentException("Nesterov momentum needs a momentum above 0.", nameof(nesterov));
        }
        ArgumentOutOfRangeException.ThrowIfNegative(weightDecay);
        Nesterov = nesterov;
        WeightDecay = weightDecay;
    }

    /// <summary>Momentum factor μ (0 = none).</summary>
    public float Momentum { get; }

    /// <summary>Whether the Nesterov form is used.</summary>
    public bool Nesterov { get; }

    /// <summary>L2 penalty added to the gradient.</summary>
    public float WeightDecay { get; }

    /// <inheritdoc/>
    protected override void Update(int index, Span<float> value, ReadOnlySpan<float> gradient)
    {
        float lr = LearningRate, wd = WeightDecay, mu = Momentum;
        if (mu == 0)
        {
            for (int i = 0; i < value.Length; i++)
            {
                value[i] -= lr * (gradient[i] + wd * value[i]);
            }
            return;
        }
        Span<float> velocity = State(index, 0);
        for (int i = 0; i < value.Length; i++)
        {
            float g = gradient[i] + wd * value[i];
            float b = mu * velocity[i] + g;
            velocity[i] = b;
            value[i] -= lr * (Nesterov ? g + mu * b : b);
        }
    }
}
