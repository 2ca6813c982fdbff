using BenchmarkDotNet.Attributes;

namespace AttnGen.Benchmarks.Suites;

/// <summary>
/// What the one-call-at-a-time check adds to every layer call: taking and releasing a <see cref="CallGate"/>
/// (one interlocked compare-exchange and one volatile write). Compare it with the smallest layer's Forward
/// (<c>Layer_H2_S16_D32_M64</c>) measured in the same run.
/// </summary>
public class CallGateCost
{
    private CallGate _gate;

    [Benchmark(Description = "CallGate Enter + Dispose")]
    public void EnterAndRelease()
    {
        using CallGate.Scope scope = _gate.Enter(this, "Forward");
    }
}
