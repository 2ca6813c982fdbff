using AttnGen.Benchmarks.Contenders;
using AttnGen.Benchmarks.Generic;
using AttnGen.Benchmarks.Infrastructure;
using AttnGen.Benchmarks.Layers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;

namespace AttnGen.Benchmarks.Suites;

/// <summary>
/// The attention core's backward (a layer without projections), batch 1, one thread: the generated layer's
/// <c>Backward</c> after one <c>ForwardTrain</c> in setup, against the runtime-shape FlashAttention-2 backward
/// (<see cref="GenericAttentionBackward"/>) after the runtime-shape forward. Each setup checks its contender's dQ,
/// dK and dV against the chain rule through the naive loops in double.
/// </summary>
public abstract unsafe class BackwardCoreBenchmark(int heads, int seqLen, int headDim, bool[] causal) : IFlopCount
{
    private const int Batch = 1;

    private float[] _q = [], _k = [], _v = [], _o = [], _dO = [], _lse = [];
    private float[] _dq = [], _dk = [], _dv = [], _expectedDq = [], _expectedDk = [], _expectedDv = [];
    private IAttentionLayer? _generated;
    private GenericAttentionBackward? _generic;

    /// <summary>Causal mask (query i sees keys 0..i).</summary>
    [ParamsSource(nameof(CausalValues))]
    public bool Causal { get; set; }

    /// <summary>The masks this shape is measured with.</summary>
    public IEnumerable<bool> CausalValues => causal;

    private AttentionShape Shape => new(heads, seqLen, headDim, Causal);

    /// <summary>A new generated core layer of the class's shape.</summary>
    protected abstract IAttentionLayer NewLayer(bool causal);

    public double NominalFlops(BenchmarkCase benchmarkCase) => FlopCount.CoreBackward(heads, seqLen, headDim, IsCausal(benchmarkCase), Batch);

    public string? FlopNote(BenchmarkCase benchmarkCase) => IsCausal(benchmarkCase) ? "visible pairs S(S+1)/2" : "S²";

    private static bool IsCausal(BenchmarkCase benchmarkCase) => benchmarkCase.Parameters.Items.Any(p => p.Name == nameof(Causal) && p.Value is true);

    private void Prepare()
    {
        int length = Batch * Shape.SequenceLength;
        _q = TestData.Uniform(length, 1);
        _k = TestData.Uniform(length, 2);
        _v = TestData.Uniform(length, 3);
        _dO = TestData.Uniform(length, 5);
        _o = new float[length];
        _dq = new float[length];
        _dk = new float[length];
        _dv = new float[length];
        _expectedDq = new float[length];
        _expectedDk = new float[length];
        _expectedDv = new float[length];
        new NaiveAttention(Shape).Backward(_q, _k, _v, _dO, _expectedDq, _expectedDk, _expectedDv, Batch);
    }

    private void Verify(string name, Action contender) => Accuracy.Verify($"{Accuracy.ClassName(this)} causal {Causal} {name}", contender,
        [("dQ", _dq, _expectedDq), ("dK", _dk, _expectedDk), ("dV", _dv, _expectedDv)]);

    [GlobalSetup(Target = nameof(Generated))]
    public void SetupGenerated()
    {
        Prepare();
        _generated = NewLayer(Causal);
        LayerKnobs.Apply(_generated, LayerKnobs.DefaultIsa, threads: 1);
        _generated.ForwardTrain(_q, _k, _v, _o, Batch);
        Verify($"Generated ({LayerKnobs.DefaultIsa})", Generated);
    }

    [GlobalSetup(Target = nameof(Generic))]
    public void SetupGeneric()
    {
        Prepare();
        var forward = new GenericAttention(heads, seqLen, headDim, Causal);
        _lse = new float[Batch * heads * seqLen];
        int width = Shape.Width;
        fixed (float* q = _q, k = _k, v = _v, o = _o, lse = _lse)
        {
            forward.Forward(q, k, v, width, o, width, Batch, Shape.SequenceLength, Shape.SequenceLength, lse);
        }
        _generic = new GenericAttentionBackward(forward);
        Verify($"Generic ({GenericAttention.VectorWidth})", Generic);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _generated?.Dispose();
        _generated = null;
        _generic = null;
    }

    [Benchmark(Baseline = true, Description = "Generated")]
    public void Generated() => _generated!.Backward(_dO, _dq, _dk, _dv, Batch);

    [Benchmark(Description = "Generic (runtime shapes)")]
    public void Generic() => _generic!.Backward(_q, _k, _v, _o, _dO, _lse, _dq, _dk, _dv, Batch);
}
