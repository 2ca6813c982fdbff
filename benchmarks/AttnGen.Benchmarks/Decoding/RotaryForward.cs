using BenchmarkDotNet.Attributes;

namespace AttnGen.Benchmarks.Decoding;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 128, ModelDim = 512, Causal = true)]
public partial class Causal_8x128x64;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 128, ModelDim = 512, Causal = true, Rotary = true)]
public partial class RotaryCausal_8x128x64;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 256, ModelDim = 512, Causal = true)]
public partial class Causal_8x256x64;

[AttentionLayer(heads: 8, headDim: 64, seqLen: 256, ModelDim = 512, Causal = true, Rotary = true)]
public partial class RotaryCausal_8x256x64;

/// <summary>
/// What rotary positions cost in the full-sequence Forward: a causal 8 x 64 layer (ModelDim 512, projections with
/// biases, batch 1, one thread, default path) with and without <c>Rotary</c>, at sequence length 128 and 256, and the
/// rotation alone (q and k of one sequence through the layer's <see cref="RotaryTable"/>).
/// </summary>
public class RotaryForward_H8_D64_M512
{
    private const int Heads = 8, HeadDim = 64, ModelDim = 512;

    private ISelfAttentionLayer? _plain, _rotary;
    private RotaryTable? _table;
    private float[] _x = [], _y = [], _qk = [];

    [Params(128, 256)]
    public int SeqLen { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (_plain, _rotary) = SeqLen == 128
            ? ((ISelfAttentionLayer)new Causal_8x128x64(), (ISelfAttentionLayer)new RotaryCausal_8x128x64())
            : (new Causal_8x256x64(), new RotaryCausal_8x256x64());
        foreach (ISelfAttentionLayer layer in new[] { _plain, _rotary })
        {
            layer.MaxDegreeOfParallelism = 1;
            layer.ResetParameters(seed: 1);
        }
        _x = new float[SeqLen * ModelDim];
        var random = new Random(3);
        for (int i = 0; i < _x.Length; i++)
        {
            _x[i] = (float)(random.NextDouble() * 2 - 1);
        }
        _y = new float[_x.Length];
        _table = new RotaryTable(HeadDim, SeqLen);
        _qk = new float[SeqLen * Heads * HeadDim];
        _x.AsSpan(0, _qk.Length).CopyTo(_qk);

        // The two layers share their parameters, so the rotation is the only difference; it must change the output.
        _plain.ParameterBlock.CopyTo(_rotary.ParameterBlock);
        var plain = new float[_x.Length];
        _plain.Forward(_x, plain, 1);
        _rotary.Forward(_x, _y, 1);
        if (plain.AsSpan().SequenceEqual(_y))
        {
            throw new InvalidOperationException("the rotary layer's output equals the plain layer's: no rotation ran");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _plain?.Dispose();
        _rotary?.Dispose();
        _table?.Dispose();
    }

    [Benchmark(Baseline = true, Description = "Forward, causal")]
    public void Plain() => _plain!.Forward(_x, _y, 1);

    [Benchmark(Description = "Forward, causal + Rotary")]
    public void Rotary() => _rotary!.Forward(_x, _y, 1);

    /// <summary>q (8 heads) and k (8 heads) of one sequence, rotated in place: the work Rotary adds to Forward.</summary>
    [Benchmark(Description = "RotaryTable.Rotate of q and k alone")]
    public void RotationAlone()
    {
        _table!.Rotate(_qk, SeqLen, Heads * HeadDim, Heads, 0, KernelIsaSupport.Best);
        _table.Rotate(_qk, SeqLen, Heads * HeadDim, Heads, 0, KernelIsaSupport.Best);
    }
}
