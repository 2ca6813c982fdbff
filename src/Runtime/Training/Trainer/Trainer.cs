namespace AttnGen.Training;

/// <summary>
/// One training step as a unit: zero the gradients, forward + loss + backward, clip by global norm, update.
/// A step allocates nothing once the model's buffers exist. A step whose loss or gradient is not finite
/// (NaN or infinity, typically from a too-large learning rate or bad input) throws before the update, so the
/// parameters and the optimizer's state stay as they were.
/// </summary>
/// <typeparam name="TBatch">The model's batch type.</typeparam>
public sealed class Trainer<TBatch>
    where TBatch : allows ref struct
{
    private readonly ITrainableModel<TBatch> _model;
    private readonly IOptimizer _optimizer;

    /// <param name="model">The model to train.</param>
    /// <param name="optimizer">An optimizer over the model's <see cref="ITrainableModel{TBatch}.Parameters"/>.</param>
    /// <param name="maxGradientNorm">Global L2 norm the gradients are clipped to; infinity (the default) never clips.</param>
    /// <exception cref="ArgumentNullException">A null model or optimizer.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxGradientNorm"/> is not above 0.</exception>
    public Trainer(ITrainableModel<TBatch> model, IOptimizer optimizer, float maxGradientNorm = float.PositiveInfinity)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        if (!(maxGradientNorm > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(maxGradientNorm), maxGradientNorm, "The gradient norm limit must be above 0 (infinity: no clipping).");
        }
        _model = model;
        _optimizer = optimizer;
        MaxGradientNorm = maxGradientNorm;
    }

    /// <summary>The global gradient norm the step clips to.</summary>
    public float MaxGradientNorm { get; }

    /// <summary>Steps taken (successful ones only).</summary>
    public long Steps { get; private set; }

    /// <summary>The loss of the last successful step.</summary>
    public float LastLoss { get; private set; } = float.NaN;

    /// <summary>The global gradient norm of the last successful step, before clipping.</summary>
    public float LastGradientNorm { get; private set; } = float.NaN;

    /// <summary>Runs one step on <paramref name="batch"/> and returns its loss.</summary>
    /// <exception cref="NonFiniteTrainingException">The loss or the gradient norm is NaN or infinite; nothing was updated.</exception>
    public float Step(scoped in TBatch batch)
    {
        _optimizer.ZeroGrad();
        float loss = _model.ForwardBackward(batch);
        if (!float.IsFinite(loss))
        {
            throw new NonFiniteTrainingException($"The loss of step {Steps + 1} is {loss}; the parameters were not updated. Lower the learning rate or check the inputs.");
        }
        float norm = float.IsPositiveInfinity(MaxGradientNorm)
            ? (float)_model.Parameters.GradientNorm()
            : GradientClipping.ClipByGlobalNorm(_model.Parameters, MaxGradientNorm);
        if (!float.IsFinite(norm))
        {
            throw new NonFiniteTrainingException($"The gradient norm of step {Steps + 1} is {norm}; the parameters were not updated. Lower the learning rate or check the inputs.");
        }
        _optimizer.Step();
        Steps++;
        LastLoss = loss;
        LastGradientNorm = norm;
        return loss;
    }
}

/// <summary>A training step produced a NaN or infinite loss or gradient; the step changed no parameter.</summary>
public sealed class NonFiniteTrainingException(string message) : ArithmeticException(message);
