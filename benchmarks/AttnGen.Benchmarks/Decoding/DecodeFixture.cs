using AttnGen.Benchmarks.Infrastructure;
using AttnGen.Benchmarks.Onnx;

namespace AttnGen.Benchmarks.Decoding;

/// <summary>
/// One decoding step of grouped-query attention at position <c>Context - 1</c>: the keys and values of positions
/// 0 .. Context-2 already cached, the step's query, key and value rows, and the float64 result of the step. The
/// same numbers feed the AttnGen cache and ONNX Runtime's past key/value buffers (BNSH, <c>[batch, kvHeads, capacity, headDim]</c>).
/// </summary>
internal sealed unsafe class DecodeFixture : IDisposable
{
    private readonly AlignedBuffer _query, _key, _value, _output;

    public DecodeFixture(int heads, int kvHeads, int headDim, int batch, int context, int capacity)
    {
        (Heads, KvHeads, HeadDim, Batch, Context, Capacity) = (heads, kvHeads, headDim, batch, context, capacity);
        // Keys and values of every position, BNSH; positions past the context stay zero.
        PastKey = new float[checked((int)((long)batch * kvHeads * capacity * headDim))];
        PastValue = new float[PastKey.Length];
        var random = new SeededRandom(TestData.Seed);
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < kvHeads; h++)
            {
                int at = (b * kvHeads + h) * capacity * headDim;
                random.FillUniform(PastKey.AsSpan(at, context * headDim), -1f, 1f);
                random.FillUniform(PastValue.AsSpan(at, context * headDim), -1f, 1f);
            }
        }
        _query = new AlignedBuffer(batch * heads * headDim);
        random.FillUniform(_query.Span, -1f, 1f);
        // The step's key and value rows [batch, 1, kvHeads * headDim]: position Context - 1 of the arrays above.
        _key = new AlignedBuffer(batch * kvHeads * headDim);
        _value = new AlignedBuffer(batch * kvHeads * headDim);
        for (int b = 0; b < batch; b++)
        {
            for (int h = 0; h < kvHeads; h++)
            {
                int from = ((b * kvHeads + h) * capacity + context - 1) * headDim, to = (b * kvHeads + h) * headDim;
                PastKey.AsSpan(from, headDim).CopyTo(_key.Slice(to, headDim));
                PastValue.AsSpan(from, headDim).CopyTo(_value.Slice(to, headDim));
            }
        }
        _output = new AlignedBuffer(batch * heads * headDim);
        Expected = Reference();
    }

    public int Heads { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public int Batch { get; }
    public int Context { get; }
    public int Capacity { get; }

    /// <summary>Keys of every position, BNSH.</summary>
    public float[] PastKey { get; }

    /// <summary>Values of every position, BNSH.</summary>
    public float[] PastValue { get; }

    /// <summary>The step's output, computed in float64.</summary>
    public float[] Expected { get; }

    /// <summary>Bytes of keys and values one step must read: every visible position of every key/value head.</summary>
    public static double KvBytes(int kvHeads, int headDim, int batch, int context) => 2.0 * batch * kvHeads * context * headDim * sizeof(float);

    /// <summary>A cache of <paramref name="capacity"/> positions holding positions 0 .. Context-2.</summary>
    public KvCache NewCache(int capacity)
    {
        var cache = new KvCache(typeof(DecodeFixture), Batch, capacity, KvHeads, HeadDim);
        int width = KvHeads * HeadDim, past = Context - 1;
        if (past > 0)
        {
            var keys = new float[past * width];
            var values = new float[past * width];
            for (int b = 0; b < Batch; b++)
            {
                for (int p = 0; p < past; p++)
                {
                    for (int h = 0; h < KvHeads; h++)
                    {
                        int from = ((b * KvHeads + h) * Capacity + p) * HeadDim;
                        PastKey.AsSpan(from, HeadDim).CopyTo(keys.AsSpan(p * width + h * HeadDim));
                        PastValue.AsSpan(from, HeadDim).CopyTo(values.AsSpan(p * width + h * HeadDim));
                    }
                }
                fixed (float* k = keys, v = values)
                {
                    cache.Write(b, past, k, v, width);
                }
            }
            cache.Commit(past);
        }
        return cache;
    }

    /// <summary>
    /// One step as a layer takes it: write the step's key and value rows at position Context - 1, attend, and
    /// (the benchmark repeats the same step) leave the cache length where it was instead of committing.
    /// </summary>
    public void Step(KvCache cache, DecodeAttention decoder, int threads)
    {
        int width = KvHeads * HeadDim;
        for (int b = 0; b < Batch; b++)
        {
            cache.Write(b, 1, _key.Pointer + b * width, _value.Pointer + b * width, width);
        }
        decoder.Run(cache, _query.Pointer, Heads * HeadDim, _output.Pointer, Heads * HeadDim, 1, KernelIsaSupport.Best, threads);
    }

    /// <summary>The output of the last <see cref="Step"/>.</summary>
    public float[] Output => _output.Span.ToArray();

    /// <summary>
    /// ONNX Runtime's <c>com.microsoft.GroupQueryAttention</c> on one thread in the share-buffer form: past_key and
    /// present_key are one bound buffer of <c>Capacity</c> positions (the same for values), <c>seqlens_k</c> = Context - 1
    /// (the last position's index) and <c>total_sequence_length</c> = Context. The operator appends the step's key and
    /// value at position Context - 1 and attends over positions 0 .. Context-1. Output lands in <paramref name="output"/>.
    /// </summary>
    public OrtRunner NewOrt(float[] output)
    {
        int q = Heads * HeadDim, kv = KvHeads * HeadDim;
        long[] cacheDims = [Batch, KvHeads, Capacity, HeadDim];
        byte[] model = new OnnxModel { IrVersion = 10 }
            .Opset(OnnxModel.StandardDomain, 21).Opset(OnnxModel.MicrosoftDomain, 1)
            .Input("query", Batch, 1, q).Input("key", Batch, 1, kv).Input("value", Batch, 1, kv)
            .Input("past_key", cacheDims).Input("past_value", cacheDims)
            .Int32Input("seqlens_k", Batch).Int32Input("total_sequence_length")
            .Output("output", Batch, 1, q).Output("present_key", cacheDims).Output("present_value", cacheDims)
            .Node("GroupQueryAttention", OnnxModel.MicrosoftDomain,
                ["query", "key", "value", "past_key", "past_value", "seqlens_k", "total_sequence_length"],
                ["output", "present_key", "present_value"],
                new OnnxAttribute("num_heads", Heads), new OnnxAttribute("kv_num_heads", KvHeads))
            .ToBytes();
        float[] query = _query.Span.ToArray(), key = _key.Span.ToArray(), value = _value.Span.ToArray();
        int[] seqlens = Enumerable.Repeat(Context - 1, Batch).ToArray();
        return new OrtRunner(model, runner =>
        {
            // One value each for past and present: the share-buffer form.
            var pastKey = runner.Pin(PastKey, cacheDims);
            var pastValue = runner.Pin(PastValue, cacheDims);
            return (
                [("query", runner.Pin(query, [Batch, 1, q])), ("key", runner.Pin(key, [Batch, 1, kv])), ("value", runner.Pin(value, [Batch, 1, kv])),
                 ("past_key", pastKey), ("past_value", pastValue),
                 ("seqlens_k", runner.Pin(seqlens, [Batch])), ("total_sequence_length", runner.Pin(new[] { Context }, []))],
                [("output", runner.Pin(output, [Batch, 1, q])), ("present_key", pastKey), ("present_value", pastValue)]);
        });
    }

    public void Dispose()
    {
        _query.Dispose();
        _key.Dispose();
        _value.Dispose();
        _output.Dispose();
    }

    private float[] Reference()
    {
        int groups = Heads / KvHeads, d = HeadDim;
        double scale = 1 / Math.Sqrt(d);
        var result = new float[Batch * Heads * d];
        var scores = new double[Context];
        var sum = new double[d];
        for (int b = 0; b < Batch; b++)
        {
            for (int h = 0; h < Heads; h++)
            {
                int region = (b * KvHeads + h / groups) * Capacity * d;
                ReadOnlySpan<float> q = _query.Span.Slice((b * Heads + h) * d, d);
                double top = double.NegativeInfinity, total = 0;
                for (int p = 0; p < Context; p++)
                {
                    double s = 0;
                    for (int e = 0; e < d; e++)
                    {
                        s += (double)q[e] * PastKey[region + p * d + e];
                    }
                    scores[p] = s * scale;
                    top = Math.Max(top, scores[p]);
                }
                Array.Clear(sum);
                for (int p = 0; p < Context; p++)
                {
                    double w = Math.Exp(scores[p] - top);
                    total += w;
                    for (int e = 0; e < d; e++)
                    {
                        sum[e] += w * PastValue[region + p * d + e];
                    }
                }
                for (int e = 0; e < d; e++)
                {
                    result[(b * Heads + h) * d + e] = (float)(sum[e] / total);
                }
            }
        }
        return result;
    }
}
