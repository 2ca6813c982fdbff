using Microsoft.ML.OnnxRuntime;

namespace AttnGen.Benchmarks.Onnx;

/// <summary>
/// An ONNX Runtime session on the CPU execution provider with one intra-op and one inter-op thread and
/// every graph optimisation, bound once (IOBinding) to OrtValues over the caller's arrays, so
/// <see cref="Run"/> reads the inputs and writes the output in place.
/// </summary>
public sealed class OrtRunner : IDisposable
{
    private readonly SessionOptions _options;
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly OrtIoBinding _binding;
    private readonly List<OrtValue> _values = [];

    /// <summary>Creates the session and binds each named array (its shape given) to the graph's inputs and output.</summary>
    internal OrtRunner(byte[] model, IReadOnlyList<(string Name, float[] Data, long[] Shape)> inputs, (string Name, float[] Data, long[] Shape) output)
    {
        _options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        try
        {
            _session = new InferenceSession(model, _options);
            _binding = _session.CreateIoBinding();
            foreach ((string name, float[] data, long[] shape) in inputs)
            {
                _binding.BindInput(name, Pin(data, shape));
            }
            _binding.BindOutput(output.Name, Pin(output.Data, output.Shape));
            _binding.SynchronizeBoundInputs();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>One inference over the bound arrays.</summary>
    public void Run() => _session.RunWithBinding(_runOptions, _binding);

    private OrtValue Pin(float[] data, long[] shape)
    {
        // The OrtValue pins the managed array for its lifetime; ORT reads and writes it directly.
        var value = OrtValue.CreateTensorValueFromMemory(data, shape);
        _values.Add(value);
        return value;
    }

    public void Dispose()
    {
        _binding?.Dispose();
        foreach (OrtValue value in _values)
        {
            value.Dispose();
        }
        _session?.Dispose();
        _runOptions.Dispose();
        _options?.Dispose();
    }
}
