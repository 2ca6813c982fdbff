namespace AttnGen.Training;

/// <summary>
/// Base of the optimizers: registers the parameters once, allocates the per-parameter state buffers
/// there (zeroed), and calls <see cref="Update"/> once per parameter on each step.
/// </summary>
public abstract class Optimizer : IOptimizer, IDisposable
{
    private readonly Parameter[] _parameters;
    private readonly AlignedBuffer[][] _state;

    /// <summary>Registers <paramref name="parameters"/> (as they are now) with <paramref name="stateBuffers"/> state buffers each.</summary>
    protected Optimizer(ParameterSet parameters, float learningRate, int stateBuffers)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentOutOfRangeException.ThrowIfNegative(stateBuffers);
        LearningRate = learningRate;
        _parameters = [.. parameters];
        _state = new AlignedBuffer[_parameters.Length][];
        for (int i = 0; i < _parameters.Length; i++)
        {
            _state[i] = new AlignedBuffer[stateBuffers];
            for (int s = 0; s < stateBuffers; s++)
            {
                _state[i][s] = new AlignedBuffer(_parameters[i].Length);
            }
        }
    }

    /// <inheritdoc/>
    public float LearningRate
    {
        get;
        set
        {
            if (!float.IsFinite(value) || value < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The learning rate must be finite and not negative.");
            }
            field = value;
        }
    }

    /// <inheritdoc/>
    public long StepCount { get; private set; }

    /// <summary>The registered parameters.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    /// <inheritdoc/>
    public void Step()
    {
        StepCount++;
        for (int i = 0; i < _parameters.Length; i++)
        {
            Parameter p = _parameters[i];
            Update(i, p.Value, p.Gradient);
        }
    }

    /// <inheritdoc/>
    public void ZeroGrad()
    {
        foreach (Parameter p in _parameters)
        {
            p.Gradient.Clear();
        }
    }

    /// <summary>Updates parameter <paramref name="index"/> in place; <see cref="StepCount"/> already counts this step.</summary>
    protected abstract void Update(int index, Span<float> value, ReadOnlySpan<float> gradient);

    /// <summary>Returns <paramref name="value"/> if it lies in [0, 1), else throws naming <paramref name="name"/>.</summary>
    protected static float InUnitInterval(float value, string name) =>
        value >= 0 && value < 1 ? value : throw new ArgumentOutOfRangeException(name, value, $"'{name}' must be in [0, 1).");

    /// <summary>State buffer <paramref name="slot"/> of parameter <paramref name="index"/> (same length as the parameter).</summary>
    protected Span<float> State(int index, int slot) => _state[index][slot].Span;

    /// <summary>Frees the state buffers.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the state buffers.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (AlignedBuffer[] buffers in _state)
            {
                foreach (AlignedBuffer buffer in buffers)
                {
                    buffer.Dispose();
                }
            }
        }
    }
}
