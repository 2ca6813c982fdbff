namespace AttnGen;

/// <summary>How a checkpoint failed to fit a layer (see <see cref="CheckpointMismatchException.Mismatch"/>).</summary>
public enum CheckpointMismatch
{
    /// <summary>A parameter of the layer has no tensor in the file.</summary>
    MissingTensor,

    /// <summary>The file has a tensor under the layer's prefix that is not a parameter of the layer.</summary>
    UnexpectedTensor,

    /// <summary>A tensor's shape differs from the parameter's.</summary>
    ShapeMismatch,

    /// <summary>A tensor's dtype cannot be read as float (only F32, F16 and BF16 can).</summary>
    UnsupportedDType,
}

/// <summary>
/// A valid safetensors file does not fit a layer: a tensor is missing, unexpected, of another shape or of a
/// dtype that cannot be read as float. The message names the file, the layer, the tensor, and the expected
/// and actual shape; the layer's parameters are unchanged.
/// </summary>
public sealed class CheckpointMismatchException : IOException
{
    /// <summary>Creates the exception with a composed message.</summary>
    public CheckpointMismatchException(
        string filePath,
        string layerName,
        string tensorName,
        CheckpointMismatch mismatch,
        IReadOnlyList<long>? expectedShape,
        IReadOnlyList<long>? actualShape,
        string message)
        : base(message)
    {
        FilePath = filePath;
        LayerName = layerName;
        TensorName = tensorName;
        Mismatch = mismatch;
        ExpectedShape = expectedShape;
        ActualShape = actualShape;
    }

    /// <summary>The checkpoint file.</summary>
    public string FilePath { get; }

    /// <summary>The layer being loaded.</summary>
    public string LayerName { get; }

    /// <summary>The full name (prefix included) of the tensor at fault; the first one when several are.</summary>
    public string TensorName { get; }

    /// <summary>What did not fit.</summary>
    public CheckpointMismatch Mismatch { get; }

    /// <summary>The shape the layer declares, or <see langword="null"/> for an unexpected tensor.</summary>
    public IReadOnlyList<long>? ExpectedShape { get; }

    /// <summary>The shape in the file, or <see langword="null"/> for a missing tensor.</summary>
    public IReadOnlyList<long>? ActualShape { get; }
}
