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
        : this(model, runner => (
            [.. inputs.Select(i => (i.Name, runner.Pin(i.Data, i.Shape)))],
            [(output.Name, runner.Pin(output.Data, output.Shape))]))
    {
    }

    /// <summary>
    /// Creates the session and binds the values <paramref name="bind"/> returns (made with <see cref="Pin{T}"/>, so the
    /// runner disposes them); one value may be bound as an input and an output (a key/value cache updated in place).
    /// </summary>
    internal OrtRunner(byte[] model, Func<OrtRunner, ((string Name, OrtValue Value)[] Inputs, (string Name, OrtValue Value)[] Outputs)> bind)
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
            var (inputs, outputs) = bind(this);
            foreach ((string name, OrtValue value) in inputs)
            {
                _binding.BindInput(name, value);
            }
            foreach ((string name, OrtValue value) in outputs)
            {
                _binding.BindOutput(name, value);
            }
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

    /// <summary>An OrtValue over <paramref name="data"/> that this runner disposes.</summary>
    internal OrtValue Pin<T>(T[] data, long[] shape)
        where T : unmanaged
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
