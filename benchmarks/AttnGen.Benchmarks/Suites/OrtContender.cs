using AttnGen.Benchmarks.Infrastructure;
using AttnGen.Benchmarks.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace AttnGen.Benchmarks.Suites;

/// <summary>Creates and checks the ONNX Runtime contenders, trying each way of expressing a causal mask.</summary>
internal static class OrtContender
{
    /// <summary>
    /// The first causal mode (attribute, then additive bias mask) whose model loads and matches
    /// <paramref name="expected"/>; throws <see cref="NotSupportedException"/> naming every failure when none does.
    /// </summary>
    public static OrtRunner Create(string name, bool causal, Func<OrtCausalMode, byte[]> model,
        IReadOnlyList<(string Name, float[] Data, long[] Shape)> inputs, (string Name, float[] Data, long[] Shape) output, float[] expected)
    {
        OrtCausalMode[] modes = causal ? [OrtCausalMode.Attribute, OrtCausalMode.BiasMask] : [OrtCausalMode.None];
        var failures = new List<string>();
        foreach (OrtCausalMode mode in modes)
        {
            OrtRunner? runner = null;
            try
            {
                runner = new OrtRunner(model(mode), inputs, output);
                Accuracy.Verify($"{name} (causal mode {mode})", runner.Run, output.Data, expected);
                return runner;
            }
            catch (Exception e) when (e is OnnxRuntimeException or InvalidOperationException)
            {
                runner?.Dispose();
                string failure = $"{mode}: {e.Message.Split('\n')[0]}";
                failures.Add(failure);
                Console.WriteLine($"// {name}: {failure}");
            }
        }
        throw new NotSupportedException($"{name}: no model variant works: {string.Join("; ", failures)}");
    }
}
