namespace AttnGen.Training;

/// <summary>Something with trainable parameters: a layer or a whole model.</summary>
public interface ITrainable
{
    /// <summary>The parameters with their gradient buffers, in a fixed order.</summary>
    ParameterSet Parameters { get; }
}
