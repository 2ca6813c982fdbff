using System.ComponentModel;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AttnGen;

/// <summary>
/// Attention of a few new query rows over a <see cref="KvCache"/>: the decoding step of a causal layer
/// (one token per sequence is the hot case; a short chunk of tokens works too). Layers call it; it is public so
/// generated code can reach it.
/// </summary>
/// <remarks>
/// <para>
/// Contract of <see cref="Run(KvCache, float*, int, float*, int, int, KernelIsa, int)"/>: the keys and values of the
/// <c>tokens</c> new positions <c>cache.Length .. cache.Length + tokens - 1</c> are already written (not committed)
/// with <see cref="KvCache.Write"/>; query row <c>t</c> of every head attends causally to positions
/// <c>0 .. cache.Length + t</c>. The cache is not changed: the caller commits after a successful run.
/// </para>
/// <para>
/// Work: for each sequence and key/value head, the <c>G = Heads / KvHeads</c> query heads that share it and all
/// <c>tokens</c> rows (<c>R = G · tokens</c> rows) walk the cache 16 positions at a time, so each key and value row is
/// read from memory once per group, not once per query head. Scores <c>S[R][16]</c> come from the transposed key
/// block by broadcast multiply-adds, then an online softmax (running max and sum, rescaled output,
/// -inf-safe), then <c>O[R][D] += P[R][16] · V[16][D]</c>. The work items are (sequence, key/value head) pairs;
/// when they do not divide evenly among the threads, each pair's positions are also split into ranges (split-K)
/// whose partial max, sum and output are merged in range order after the workers finish, so a result depends
/// only on the inputs and the thread count, never on timing.
/// </para>
/// <para>Memory: scratch grows on the first call with a larger batch or thread count; later calls allocate nothing.</para>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed unsafe class DecodeAttention : IDisposable
{
    private readonly WorkerGroup _workers;
    private readonly int _rows;
    private readonly long _unitFloats;
    private AlignedBuffer[] _scratch = [];
    private AlignedBuffer? _partials;

    // The call in progress, read by the workers.
    private KvCache? _cache;
    private float* _queries;
    private float* _output;
    private int _queryStride, _outputStride, _tokens, _past, _blocks, _splits, _units, _threads;
    private KernelIsa _isa;

    /// <summary>A decoder for layers of <paramref name="heads"/> query heads over <paramref name="kvHeads"/> key/value heads.</summary>
    /// <param name="heads">Query heads; a multiple of <paramref name="kvHeads"/>.</param>
    /// <param name="kvHeads">Key/value heads (fewer than <paramref name="heads"/> for grouped-query attention).</param>
    /// <param name="headDim">Floats per head vector.</param>
    /// <param name="scale">Factor on every score before the softmax (see <see cref="ScaleFor"/>).</param>
    /// <param name="maxTokens">Most query rows per sequence one call takes.</param>
    public DecodeAttention(int heads, int kvHeads, int headDim, float scale, int maxTokens)
    {
        Guard.Parallelism(heads);
        Guard.Parallelism(kvHeads);
        Guard.Parallelism(headDim);
        Guard.Parallelism(maxTokens);
        if (heads % kvHeads != 0)
        {
            throw new ArgumentException($"'{nameof(heads)}' is {heads}; expected a multiple of {nameof(kvHeads)} = {kvHeads}.", nameof(heads));
        }
        if (!float.IsFinite(scale) || scale <= 0f)
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, $"'{nameof(scale)}' is {scale}; expected a finite value above 0.");
        }
        Heads = heads;
        KvHeads = kvHeads;
        HeadDim = headDim;
        Scale = scale;
        MaxTokens = maxTokens;
        _rows = Groups * maxTokens;
        _unitFloats = Pad((long)_rows * headDim) + 2 * Pad(_rows);
        _workers = new WorkerGroup(Work);
    }

    /// <summary>Query heads.</summary>
    public int Heads { get; }

    /// <summary>Key/value heads.</summary>
    public int KvHeads { get; }

    /// <summary>Query heads per key/value head (G).</summary>
    public int Groups => Heads / KvHeads;

    /// <summary>Floats per head vector.</summary>
    public int HeadDim { get; }

    /// <summary>Factor on every score.</summary>
    public float Scale { get; }

    /// <summary>Most query rows per sequence in one call.</summary>
    public int MaxTokens { get; }

    /// <summary>The score scale of a scoring function: <c>1/sqrt(headDim)</c> for scaled dot-product, 1 for plain dot-product.</summary>
    /// <exception cref="ArgumentException">Additive scoring, which has no decoding kernel.</exception>
    public static float ScaleFor(AttentionScoring scoring, int headDim) => scoring switch
    {
        AttentionScoring.ScaledDotProduct => 1f / MathF.Sqrt(headDim),
        AttentionScoring.DotProduct => 1f,
        _ => throw new ArgumentException($"'{nameof(scoring)}' is {scoring}; expected ScaledDotProduct or DotProduct.", nameof(scoring)),
    };

    /// <summary>
    /// Attention for <paramref name="tokens"/> rows per sequence with queries and output as
    /// <c>[cache.Batch, tokens, Heads · HeadDim]</c> spans (see the remarks for what the cache must hold).
    /// </summary>
    public void Run(KvCache cache, ReadOnlySpan<float> queries, Span<float> output, int tokens, KernelIsa isa, int threads)
    {
        ArgumentNullException.ThrowIfNull(cache);
        int width = Heads * HeadDim;
        Guard.Length(queries.Length, cache.Batch, Math.Max(tokens, 0), width, nameof(queries));
        Guard.Length(output.Length, cache.Batch, Math.Max(tokens, 0), width, nameof(output));
        fixed (float* q = queries, o = output)
        {
            Run(cache, q, width, o, width, tokens, isa, threads);
        }
    }

    /// <summary>
    /// Attention for <paramref name="tokens"/> rows per sequence. Query row <c>t</c> of sequence <c>b</c>, head <c>h</c> is read at
    /// <c>queries[(b · tokens + t) · queryStride + h · HeadDim ..]</c> and its output written at
    /// <c>output[(b · tokens + t) · outputStride + h · HeadDim ..]</c>, so a fused projection buffer can be read in place.
    /// </summary>
    /// <exception cref="ArgumentException">The cache has other heads or head width, a stride is too short.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="tokens"/> is outside <c>1..MaxTokens</c> or does not fit the cache; <paramref name="threads"/> below 1.</exception>
    /// <exception cref="NotSupportedException">This process cannot run <paramref name="isa"/>.</exception>
    public void Run(KvCache cache, float* queries, int queryStride, float* output, int outputStride, int tokens, KernelIsa isa, int threads)
    {
        ArgumentNullException.ThrowIfNull(cache);
        if (cache.KvHeads != KvHeads || cache.HeadDim != HeadDim)
        {
            throw new ArgumentException(
                $"'{nameof(cache)}' holds {cache.KvHeads} key/value heads of {cache.HeadDim}; expected {KvHeads} heads of {HeadDim}.", nameof(cache));
        }
        if ((uint)(tokens - 1) >= (uint)MaxTokens)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), tokens, $"'{nameof(tokens)}' is {tokens}; expected 1..{MaxTokens}.");
        }
        cache.EnsureRoom(tokens, nameof(tokens));
        Stride(queryStride, nameof(queryStride));
        Stride(outputStride, nameof(outputStride));
        Guard.Parallelism(threads);
        Guard.IsaSupported(isa);

        int items = cache.Batch * KvHeads;
        _blocks = (cache.Length + tokens + KvCache.BlockSize - 1) / KvCache.BlockSize;
        _splits = SplitsFor(items, threads, _blocks);
        _units = items * _splits;
        _threads = Math.Min(threads, _units);
        Reserve(_threads, _units);
        _cache = cache;
        _queries = queries;
        _queryStride = queryStride;
        _output = output;
        _outputStride = outputStride;
        _tokens = tokens;
        _past = cache.Length;
        _isa = isa;
        try
        {
            _workers.Run(_threads);
            if (_splits > 1)
            {
                Merge(items);
            }
        }
        finally
        {
            _cache = null;
            _queries = _output = null;
        }
    }

    /// <summary>
    /// Ranges per (sequence, key/value head) pair: 1 on one thread; otherwise the fewest that make the
    /// units a multiple of the thread count (<c>threads / gcd(items, threads)</c>), at most one per key block.
    /// </summary>
    internal static int SplitsFor(int items, int threads, int blocks)
    {
        if (threads <= 1)
        {
            return 1;
        }
        int a = items, b = threads;
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }
        return Math.Max(1, Math.Min(threads / a, blocks));
    }

    /// <summary>Frees the scratch memory.</summary>
    public void Dispose()
    {
        foreach (AlignedBuffer buffer in _scratch)
        {
            buffer.Dispose();
        }
        _scratch = [];
        _partials?.Dispose();
        _partials = null;
    }

    private void Stride(int stride, string name)
    {
        if (stride < Heads * HeadDim)
        {
            throw new ArgumentOutOfRangeException(name, stride, $"'{name}' is {stride}; expected at least Heads x HeadDim = {Heads * HeadDim}.");
        }
    }

    private void Reserve(int threads, int units)
    {
        if (_scratch.Length < threads)
        {
            var scratch = new AlignedBuffer[threads];
            for (int i = 0; i < threads; i++)
            {
                scratch[i] = i < _scratch.Length ? _scratch[i] : new AlignedBuffer(checked((int)DecodeKernel.ScratchFloats(_rows, HeadDim)));
            }
            _scratch = scratch;
        }
        if (_splits > 1 && (_partials is null || _partials.Length < units * _unitFloats))
        {
            _partials?.Dispose();
            _partials = new AlignedBuffer(checked((int)(units * _unitFloats)));
        }
    }

    private void Work(int worker)
    {
        KvCache cache = _cache!;
        var scratch = new DecodeKernel.Scratch(_scratch[worker].Pointer, _rows, HeadDim);
        int groups = Groups, d = HeadDim, rows = groups * _tokens;
        int begin = (int)((long)worker * _units / _threads), end = (int)((long)(worker + 1) * _units / _threads);
        for (int unit = begin; unit < end; unit++)
        {
            int item = unit / _splits, split = unit % _splits;
            int sequence = item / KvHeads, kvHead = item % KvHeads;
            int blockBegin = (int)((long)split * _blocks / _splits), blockEnd = (int)((long)(split + 1) * _blocks / _splits);

            // Scaled query rows: row t · G + g is token t of head kvHead · G + g.
            for (int t = 0; t < _tokens; t++)
            {
                float* q = _queries + ((long)sequence * _tokens + t) * _queryStride + (long)kvHead * groups * d;
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(q, groups * d), Scale, new Span<float>(scratch.Queries + (long)t * groups * d, groups * d));
            }

            float* keys = cache.Keys(sequence, kvHead), values = cache.Values(sequence, kvHead);
            bool tiled = _tokens > 1 && rows >= PrefillKernel.MinRows;
            if (_isa == KernelIsa.Avx512 && Avx512F.IsSupported)
            {
                RunUnit<Vector512Ops, Vector512<float>>(tiled, keys, values, groups, blockBegin, blockEnd, scratch);
            }
            else if (_isa == KernelIsa.Avx2 && Avx2.IsSupported && Fma.IsSupported)
            {
                RunUnit<Vector256Ops, Vector256<float>>(tiled, keys, values, groups, blockBegin, blockEnd, scratch);
            }
            else if (_isa == KernelIsa.Vector128 && Vector128.IsHardwareAccelerated)
            {
                RunUnit<Vector128Ops, Vector128<float>>(tiled, keys, values, groups, blockBegin, blockEnd, scratch);
            }
            else
            {
                RunUnit<ScalarOps, float>(tiled, keys, values, groups, blockBegin, blockEnd, scratch);
            }

            if (_splits == 1)
            {
                for (int r = 0; r < rows; r++)
                {
                    int t = r / groups, g = r % groups;
                    float* o = _output + ((long)sequence * _tokens + t) * _outputStride + (long)(kvHead * groups + g) * d;
                    TensorPrimitives.Multiply(new ReadOnlySpan<float>(scratch.Output + (long)r * d, d), 1f / scratch.Sum[r], new Span<float>(o, d));
                }
            }
            else
            {
                float* partial = _partials!.Pointer + unit * _unitFloats;
                new ReadOnlySpan<float>(scratch.Output, rows * d).CopyTo(new Span<float>(partial, rows * d));
                new ReadOnlySpan<float>(scratch.Max, rows).CopyTo(new Span<float>(partial + Pad((long)_rows * d), rows));
                new ReadOnlySpan<float>(scratch.Sum, rows).CopyTo(new Span<float>(partial + Pad((long)_rows * d) + Pad(_rows), rows));
            }
        }
    }

    // One unit on one width: the query-tiled kernel for chunks of several tokens, the row kernel for one-token steps and short chunks.
    private void RunUnit<TOps, TVec>(bool tiled, float* keys, float* values, int groups, int blockBegin, int blockEnd, DecodeKernel.Scratch scratch)
        where TOps : struct, IVectorOps<TVec>
        where TVec : unmanaged
    {
        if (tiled)
        {
            PrefillKernel.Run<TOps, TVec>(keys, values, HeadDim, groups, _tokens, _past, blockBegin, blockEnd, scratch);
        }
        else
        {
            DecodeKernel.Run<TOps, TVec>(keys, values, HeadDim, groups, _tokens, _past, blockBegin, blockEnd, scratch);
        }
    }

    /// <summary>Combines the ranges of each pair in range order: O = Σ_s exp(m_s − M) · O_s / Σ_s exp(m_s − M) · l_s.</summary>
    private void Merge(int items)
    {
        int groups = Groups, d = HeadDim, rows = groups * _tokens;
        long maxAt = Pad((long)_rows * d), sumAt = maxAt + Pad(_rows);
        float* basePointer = _partials!.Pointer;
        for (int item = 0; item < items; item++)
        {
            int sequence = item / KvHeads, kvHead = item % KvHeads;
            float* first = basePointer + (long)item * _splits * _unitFloats;
            for (int r = 0; r < rows; r++)
            {
                float top = float.NegativeInfinity;
                for (int s = 0; s < _splits; s++)
                {
                    top = Math.Max(top, first[s * _unitFloats + maxAt + r]);
                }
                int t = r / groups, g = r % groups;
                var o = new Span<float>(_output + ((long)sequence * _tokens + t) * _outputStride + (long)(kvHead * groups + g) * d, d);
                o.Clear();
                float total = 0f;
                for (int s = 0; s < _splits; s++)
                {
                    float* partial = first + s * _unitFloats;
                    float m = partial[maxAt + r];
                    if (float.IsNegativeInfinity(m))
                    {
                        continue; // the range held no position this row sees
                    }
                    float w = MathF.Exp(m - top);
                    total += w * partial[sumAt + r];
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(partial + (long)r * d, d), w, o, o);
                }
                TensorPrimitives.Multiply(o, 1f / total, o);
            }
        }
    }

    private static long Pad(long floats) => (floats + 15) / 16 * 16;
}
