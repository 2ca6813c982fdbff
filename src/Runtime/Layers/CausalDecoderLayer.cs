namespace AttnGen;

/// <summary>
/// A causal self-attention layer that decodes with a key/value cache: generated layers declared with
/// <c>KvCache = true</c> derive from it. Besides every member of <see cref="SelfAttentionLayer{TKernels}"/>
/// (full-sequence Forward, ForwardTrain, Backward, Load, Save), it creates caches
/// (<see cref="CreateCache"/>) and runs <see cref="Forward(ReadOnlySpan{float}, Span{float}, KvCache, int)"/> on
/// the new tokens only: their projections, their keys and values appended to the cache, causal attention over
/// the cached positions and themselves, and the output projection.
/// </summary>
/// <typeparam name="TKernels">The layer's generated kernel table.</typeparam>
/// <remarks>
/// <para>
/// A step of <c>tokens</c> new positions per sequence runs in chunks of at most <see cref="ChunkTokens"/> tokens;
/// each chunk: the sequences' rows are projected (<c>q | k | v</c>) on up to <see cref="AttentionLayer{TKernels}.MaxDegreeOfParallelism"/>
/// threads, one sequence per thread; with rotary positions the query and key heads turn by their positions
/// <c>Length ..</c>; the keys and values are written to the cache; <see cref="DecodeAttention"/> attends over
/// positions <c>0 .. Length + t</c> (work items are (sequence, key/value head) pairs, and a long context of one
/// sequence is split across the threads); the output projection writes the chunk's output rows; the cache commits.
/// The work grows with the cache's length, never with its capacity.
/// </para>
/// <para>
/// Scratch grows on the first step with a larger batch and chunk; later steps allocate nothing.
/// </para>
/// </remarks>
public abstract unsafe class CausalDecoderLayer<TKernels> : SelfAttentionLayer<TKernels>
    where TKernels : struct, IAttentionKernels
{
    /// <summary>Most tokens per sequence one chunk of a step projects and attends at once.</summary>
    public const int ChunkTokens = 64;

    private static readonly AttentionLayerInfo s_info = TKernels.Info;
    private static readonly int s_chunk = Math.Min(ChunkTokens, s_info.SeqLen);
    private static readonly int s_queryWidth = s_info.Heads * s_info.HeadDim;
    private static readonly int s_qkvWidth = s_queryWidth + 2 * s_info.KvHeads * s_info.HeadDim;

    private DecodeAttention? _attention;
    private AlignedBuffer? _qkv, _context;
    private WorkerGroup? _rowWorkers;

    // The chunk in progress, read by the row workers.
    private KvCache? _cache;
    private float* _input, _output, _packed;
    private int _tokens, _done, _chunkTokens, _position, _workers = 1;
    private bool _projecting;

    /// <summary>Allocates the parameter block (all zeros; see <see cref="AttentionLayer{TKernels}.ResetParameters"/>).</summary>
    protected CausalDecoderLayer()
    {
    }

    /// <summary>
    /// A cache for <paramref name="batch"/> sequences of up to SeqLen positions, for this layer type (any instance of
    /// it; a layer of another type refuses it). Dispose it to free its native memory.
    /// </summary>
    /// <param name="batch">Sequences decoded together, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is below 1 or the cache would not fit in memory.</exception>
    public KvCache CreateCache(int batch)
    {
        ThrowIfDisposed();
        Guard.Parallelism(batch);
        return new KvCache(GetType(), batch, s_info.SeqLen, s_info.KvHeads, s_info.HeadDim);
    }

    /// <summary>
    /// Appends <paramref name="tokens"/> positions to every sequence of <paramref name="cache"/> and writes their
    /// outputs: <paramref name="input"/> and <paramref name="output"/> are <c>[cache.Batch, tokens, ModelDim]</c>, row-major.
    /// Row <c>t</c> of a sequence is position <c>cache.Length + t</c> and attends to positions <c>0 .. cache.Length + t</c>;
    /// the output equals those rows of the full causal Forward over the whole sequence (to float rounding). On
    /// success <c>cache.Length</c> grows by <paramref name="tokens"/>.
    /// </summary>
    /// <param name="input">The new rows, <c>[cache.Batch, tokens, ModelDim]</c>.</param>
    /// <param name="output">Receives the output rows, <c>[cache.Batch, tokens, ModelDim]</c>; may be the same span as <paramref name="input"/>.</param>
    /// <param name="cache">A cache from <see cref="CreateCache"/> of this layer type.</param>
    /// <param name="tokens">New positions per sequence: 1 .. <c>cache.Capacity - cache.Length</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="cache"/> is null.</exception>
    /// <exception cref="ArgumentException">The cache was made by another layer type; a span's length is not <c>cache.Batch · tokens · ModelDim</c>
    /// (a wrong batch, for instance); <paramref name="output"/> partly overlaps <paramref name="input"/>; <paramref name="tokens"/>
    /// is outside <c>1 .. Capacity - Length</c> (an <see cref="ArgumentOutOfRangeException"/>). Nothing is written, the cache is unchanged.</exception>
    /// <exception cref="ObjectDisposedException">The layer or the cache is disposed.</exception>
    /// <exception cref="InvalidOperationException">Another call on this layer instance is running.</exception>
    public void Forward(ReadOnlySpan<float> input, Span<float> output, KvCache cache, int tokens)
    {
        using CallGate.Scope gate = EnterCall(nameof(Forward));
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(cache);
        cache.EnsureCompatible(GetType(), s_info.KvHeads, s_info.HeadDim, nameof(cache));
        cache.EnsureRoom(tokens, nameof(tokens));
        Guard.Length(input.Length, cache.Batch, tokens, s_info.ModelDim, nameof(input));
        Guard.Length(output.Length, cache.Batch, tokens, s_info.ModelDim, nameof(output));
        Guard.InPlaceOrDisjoint(input, output, nameof(input), nameof(output));

        int start = cache.Length;
        fixed (float* x = input, y = output)
        {
            try
            {
                for (int done = 0; done < tokens; done += s_chunk)
                {
                    RunChunk(cache, x, y, tokens, done, Math.Min(s_chunk, tokens - done));
                    cache.Commit(Math.Min(s_chunk, tokens - done));
                }
            }
            catch
            {
                // Not reached with valid arguments; a failure midway must not leave a partial step in the cache.
                cache.Truncate(start);
                throw;
            }
            finally
            {
                _cache = null;
                _input = _output = _packed = null;
            }
        }
    }

    /// <summary>
    /// The tensor form of <see cref="Forward(ReadOnlySpan{float}, Span{float}, KvCache, int)"/>: <paramref name="input"/> and
    /// <paramref name="output"/> are <c>[cache.Batch, tokens, ModelDim]</c> (or <c>[tokens, ModelDim]</c> for a cache of one
    /// sequence), dense and row-major; the token count is read from the input's shape.
    /// </summary>
    /// <exception cref="ArgumentException">A tensor's shape or density is wrong (named, with the expected and the actual shape), or as the span form.</exception>
    public void Forward(System.Numerics.Tensors.ReadOnlyTensorSpan<float> input, System.Numerics.Tensors.TensorSpan<float> output, KvCache cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        int tokens = AttentionLayerTensorExtensions.DecodeTokens(input, output, cache.Batch, s_info.ModelDim, nameof(cache));
        Forward(AttentionLayerTensorExtensions.Dense(input), AttentionLayerTensorExtensions.Dense(output), cache, tokens);
    }

    // One chunk of n tokens per sequence at positions cache.Length ..: rows, attention, output rows.
    private void RunChunk(KvCache cache, float* input, float* output, int tokens, int done, int n)
    {
        int batch = cache.Batch;
        Reserve(batch, n);
        _cache = cache;
        _input = input;
        _output = output;
        _packed = PackedWeights();
        _tokens = tokens;
        _done = done;
        _chunkTokens = n;
        _position = cache.Length;
        _workers = Math.Min(MaxDegreeOfParallelism, batch);

        _projecting = true;
        RunRows();
        _attention!.Run(cache, _qkv!.Pointer, s_qkvWidth, _context!.Pointer, s_queryWidth, n, Isa, MaxDegreeOfParallelism);
        _projecting = false;
        RunRows();
    }

    private void RunRows()
    {
        if (_workers == 1)
        {
            RowWorker(0);
            return;
        }
        (_rowWorkers ??= new WorkerGroup(RowWorker)).Run(_workers);
    }

    // Worker w handles sequences w, w + workers, ...: projections, rotation and cache write, or the output projection.
    private void RowWorker(int worker)
    {
        KvCache cache = _cache!;
        KernelIsa isa = Isa;
        int n = _chunkTokens, modelDim = s_info.ModelDim, kvOffset = s_queryWidth + s_info.KvHeads * s_info.HeadDim;
        for (int b = worker; b < cache.Batch; b += _workers)
        {
            long firstRow = (long)b * _tokens + _done;
            float* qkv = _qkv!.Pointer + (long)b * n * s_qkvWidth;
            if (_projecting)
            {
                TKernels.ProjectRows(isa, _input + firstRow * modelDim, n, _packed, qkv);
                if (TKernels.Rotary is { } rotary)
                {
                    rotary.Rotate(qkv, n, s_qkvWidth, s_info.Heads, _position, isa);
                    rotary.Rotate(qkv + s_queryWidth, n, s_qkvWidth, s_info.KvHeads, _position, isa);
                }
                cache.Write(b, n, qkv + s_queryWidth, qkv + kvOffset, s_qkvWidth);
            }
            else
            {
                TKernels.OutputRows(isa, _context!.Pointer + (long)b * n * s_queryWidth, n, _packed, _output + firstRow * modelDim);
            }
        }
    }

    // Grows the projection and context buffers to batch x n rows, once.
    private void Reserve(int batch, int n)
    {
        _attention ??= new DecodeAttention(s_info.Heads, s_info.KvHeads, s_info.HeadDim, s_info.Scale, s_chunk);
        long rows = (long)batch * n;
        if (_qkv is null || _qkv.Length < rows * s_qkvWidth)
        {
            _qkv?.Dispose();
            _context?.Dispose();
            _qkv = new AlignedBuffer(checked((int)(rows * s_qkvWidth)));
            _context = new AlignedBuffer(checked((int)(rows * s_queryWidth)));
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _attention?.Dispose();
            _qkv?.Dispose();
            _context?.Dispose();
        }
        base.Dispose(disposing);
    }
}
