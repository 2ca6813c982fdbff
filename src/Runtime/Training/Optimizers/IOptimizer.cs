namespace AttnGen.Training;

/// <summary>Updates a fixed set of parameters from their accumulated gradients.</summary>
public interface IOptimizer
{
    /// <summary>The step size; may be changed between steps (learning-rate schedules).</summary>
    float LearningRate { get; set; }

    /// <summary>Number of <see cref="Step"/> calls so far.</summary>
    long StepCount { get; }

    /// <summary>Applies one update to every registered parameter from its gradient. Allocates nothing.</summary>
    void Step();

    /// <summary>Sets every registered gradient to zero.</summary>
    void ZeroGrad();
}
