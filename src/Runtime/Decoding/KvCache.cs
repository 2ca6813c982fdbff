namespace AttnGen;

/// <summary>
/// The projected (and, with rotary positions, rotated) keys and values of a batch of sequences for one
/// attention layer, kept between decoding steps so each step projects only its new tokens. A layer creates
/// it (<c>layer.CreateCache(batch)</c>) with room for <see cref="Capacity"/> positions per sequence; every
/// sequence of one cache advances together, so one <see cref="Length"/> serves them all.
/// </summary>
/// <remarks>
/// <para>
/// Memory: two 64-byte-aligned native blocks allocated once by the constructor; nothing is allocated after it.
/// For sequence <c>b</c> and key/value head <c>h</c> (region index <c>b · KvHeads + h</c>):
/// </para>
/// <list type="bullet">
/// <item>keys in blocks of <see cref="BlockSize"/> = 16 positions, each block stored transposed as
/// <c>[HeadDim][16]</c>: key element <c>d</c> of position <c>p</c> sits at
/// <c>(p / 16) · HeadDim · 16 + d · 16 + p % 16</c> in the region, which holds <c>ceil(Capacity / 16) · 16 · HeadDim</c>
/// floats. The 16 scores of one block for one query row are then <c>HeadDim</c> broadcast multiply-adds of
/// <c>q[d]</c> into one 16-float vector (one 512-bit register, two 256-bit, four 128-bit) with no horizontal
/// sum: <c>s[0..15] += q[d] · K[block][d][0..15]</c> for <c>d = 0 .. HeadDim-1</c>.</item>
/// <item>values row-major <c>[Capacity][HeadDim]</c>: value element <c>d</c> of position <c>p</c> sits at
/// <c>p · HeadDim + d</c> in a region of <c>Capacity · HeadDim</c> floats rounded up to 16 floats.
/// The weighted sum <c>o[0..HeadDim-1] += P[p] · V[p][0..HeadDim-1]</c> reads each row once, contiguously.</item>
/// </list>
/// <para>
/// Append protocol (what a layer does in one step): check the room with <see cref="EnsureRoom"/>, write the new
/// rows at positions <c>Length .. Length + tokens - 1</c> with <see cref="Write"/>, run the attention (which reads
/// those pending rows), and only then <see cref="Commit"/>. A step that fails before the commit leaves
/// <see cref="Length"/> unchanged, and the rows it wrote are overwritten by the next step.
/// </para>
/// </remarks>
public sealed unsafe class KvCache : IDisposable
{
    /// <summary>Positions per transposed key block.</summary>
    public const int BlockSize = 16;

    private readonly AlignedBuffer? _keyBuffer;
    private readonly AlignedBuffer? _valueBuffer;
    private float* _keys;
    private float* _values;

    /// <summary>
    /// A cache for <paramref name="batch"/> sequences of up to <paramref name="capacity"/> positions with
    /// <paramref name="kvHeads"/> key/value heads of <paramref name="headDim"/> floats, owned by layers of type
    /// <paramref name="owner"/> (a layer refuses a cache made for another type). Layers call this from
    /// <c>CreateCache</c>; users normally call <c>CreateCache</c>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="owner"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size is below 1, or the cache would exceed the addressable size.</exception>
    public KvCache(Type owner, int batch, int capacity, int kvHeads, int headDim)
        : this(owner, batch, capacity, kvHeads, headDim, external: false)
    {
        _keyBuffer = new AlignedBuffer(checked((int)KeyFloats(batch, capacity, kvHeads, headDim)));
        _valueBuffer = new AlignedBuffer(checked((int)ValueFloats(batch, capacity, kvHeads, headDim)));
        _keys = _keyBuffer.Pointer;
        _values = _valueBuffer.Pointer;
    }

    /// <summary>A cache over memory the caller owns and frees (<see cref="KeyFloats"/> and <see cref="ValueFloats"/> floats).</summary>
    internal KvCache(Type owner, int batch, int capacity, int kvHeads, int headDim, float* keys, float* values)
        : this(owner, batch, capacity, kvHeads, headDim, external: true)
    {
        _keys = keys;
        _values = values;
    }

    private KvCache(Type owner, int batch, int capacity, int kvHeads, int headDim, bool external)
    {
        ArgumentNullException.ThrowIfNull(owner);
        Guard.Parallelism(batch);
        Guard.Parallelism(capacity);
        Guard.Parallelism(kvHeads);
        Guard.Parallelism(headDim);
        long largest = Math.Max(KeyFloats(batch, capacity, kvHeads, headDim), ValueFloats(batch, capacity, kvHeads, headDim));
        if (!external && largest > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity,
                $"A cache of batch {batch} x capacity {capacity} x {kvHeads} key/value heads x {headDim} needs {largest} floats per tensor; at most {Array.MaxLength} fit.");
        }
        Owner = owner;
        Batch = batch;
        Capacity = capacity;
        KvHeads = kvHeads;
        HeadDim = headDim;
        KeyRegionFloats = (long)Blocks(capacity) * BlockSize * headDim;
        ValueRegionFloats = RoundUp((long)capacity * headDim);
    }

    /// <summary>The layer type this cache belongs to.</summary>
    public Type Owner { get; }

    /// <summary>Sequences in the batch.</summary>
    public int Batch { get; }

    /// <summary>Most positions a sequence can hold (the layer's sequence length).</summary>
    public int Capacity { get; }

    /// <summary>Positions held now, the same for every sequence; the next token goes to position <see cref="Length"/>.</summary>
    public int Length { get; private set; }

    /// <summary>Key/value heads per position.</summary>
    public int KvHeads { get; }

    /// <summary>Floats per head vector.</summary>
    public int HeadDim { get; }

    /// <summary>Whether <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => _keys == null;

    /// <summary>Floats of one (sequence, key/value head) key region.</summary>
    internal long KeyRegionFloats { get; }

    /// <summary>Floats of one (sequence, key/value head) value region.</summary>
    internal long ValueRegionFloats { get; }

    /// <summary>Starts over: <see cref="Length"/> becomes 0 (the memory is reused, not cleared).</summary>
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        Length = 0;
    }

    /// <summary>Drops positions <paramref name="length"/>.. of every sequence (a retry, a rejected speculative token).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is outside <c>0..Length</c>.</exception>
    public void Truncate(int length)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if ((uint)length > (uint)Length)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"'{nameof(length)}' is {length}; expected 0..{Length} (the current length).");
        }
        Length = length;
    }

    /// <summary>Floats of the key memory for the given sizes.</summary>
    internal static long KeyFloats(int batch, int capacity, int kvHeads, int headDim)
        => (long)batch * kvHeads * Blocks(capacity) * BlockSize * headDim;

    /// <summary>Floats of the value memory for the given sizes.</summary>
    internal static long ValueFloats(int batch, int capacity, int kvHeads, int headDim)
        => (long)batch * kvHeads * RoundUp((long)capacity * headDim);

    /// <summary>
    /// Throws unless this cache was made for layers of type <paramref name="owner"/> with
    /// <paramref name="kvHeads"/> heads of <paramref name="headDim"/>: an <see cref="ArgumentException"/> naming
    /// <paramref name="name"/>, the expected and the actual owner (or shape).
    /// </summary>
    internal void EnsureCompatible(Type owner, int kvHeads, int headDim, string name)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (owner != Owner)
        {
            throw new ArgumentException($"'{name}' was created for {Owner.FullName}; expected a cache created by {owner.FullName}.", name);
        }
        if (kvHeads != KvHeads || headDim != HeadDim)
        {
            throw new ArgumentException(
                $"'{name}' holds {KvHeads} key/value heads of {HeadDim}; expected {kvHeads} heads of {headDim}.", name);
        }
    }

    /// <summary>
    /// Throws unless <paramref name="tokens"/> new positions fit: <c>1 ≤ tokens</c> and
    /// <c>Length + tokens ≤ Capacity</c> (an <see cref="ArgumentOutOfRangeException"/> naming <paramref name="name"/>).
    /// </summary>
    internal void EnsureRoom(int tokens, string name)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (tokens < 1 || tokens > Capacity - Length)
        {
            throw new ArgumentOutOfRangeException(name, tokens,
                $"'{name}' is {tokens}; expected 1..{Capacity - Length} (cache length {Length}, capacity {Capacity}).");
        }
    }

    /// <summary>Transposed key blocks of <paramref name="sequence"/> and <paramref name="kvHead"/> (block 0, d 0, lane 0).</summary>
    internal float* Keys(int sequence, int kvHead) => _keys + ((long)sequence * KvHeads + kvHead) * KeyRegionFloats;

    /// <summary>Value row 0 of <paramref name="sequence"/> and <paramref name="kvHead"/>.</summary>
    internal float* Values(int sequence, int kvHead) => _values + ((long)sequence * KvHeads + kvHead) * ValueRegionFloats;

    /// <summary>
    /// Writes the key and value rows of <paramref name="tokens"/> new positions <c>Length ..</c> of one sequence,
    /// without committing them. Row <c>i</c>'s head <c>h</c> is read at <c>keys[i · rowStride + h · HeadDim ..]</c> (and
    /// the same for values), so a fused projection output <c>[tokens, (Heads + 2 · KvHeads) · HeadDim]</c> can be
    /// passed in place with its row width as the stride. Call <see cref="EnsureRoom"/> first.
    /// </summary>
    internal void Write(int sequence, int tokens, float* keys, float* values, int rowStride)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if ((uint)sequence >= (uint)Batch)
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), sequence, $"'{nameof(sequence)}' is {sequence}; expected 0..{Batch - 1}.");
        }
        EnsureRoom(tokens, nameof(tokens));
        int start = Length, d = HeadDim;
        for (int h = 0; h < KvHeads; h++)
        {
            float* blocks = Keys(sequence, h);
            float* key = keys + (long)h * d;
            // Positions up to the next block boundary one element at a time, the whole blocks after it in 8 x 8 or 4 x 4 tiles.
            int head = Math.Min(tokens, (BlockSize - start % BlockSize) % BlockSize);
            for (int i = 0; i < head; i++)
            {
                int p = start + i;
                float* column = blocks + (long)(p / BlockSize) * d * BlockSize + p % BlockSize;
                float* row = key + (long)i * rowStride;
                for (int e = 0; e < d; e++)
                {
                    column[(long)e * BlockSize] = row[e];
                }
            }
            if (tokens > head)
            {
                int rest = tokens - head;
                int padded = (rest + BlockSize - 1) / BlockSize * BlockSize;
                KernelSupport.PackKeyBlocks(key + (long)head * rowStride, rowStride, rest, d, padded, BlockSize,
                    blocks + (long)((start + head) / BlockSize) * d * BlockSize);
            }
            float* valueRows = Values(sequence, h) + (long)start * d;
            float* value = values + (long)h * d;
            for (int i = 0; i < tokens; i++)
            {
                new ReadOnlySpan<float>(value + (long)i * rowStride, d).CopyTo(new Span<float>(valueRows + (long)i * d, d));
            }
        }
    }

    /// <summary>Makes the <paramref name="tokens"/> rows written past <see cref="Length"/> part of the cache.</summary>
    internal void Commit(int tokens)
    {
        EnsureRoom(tokens, nameof(tokens));
        Length += tokens;
    }

    /// <summary>Frees the memory (a cache over caller-owned memory only forgets it).</summary>
    public void Dispose()
    {
        _keyBuffer?.Dispose();
        _valueBuffer?.Dispose();
        _keys = null;
        _values = null;
    }

    private static int Blocks(int capacity) => (capacity + BlockSize - 1) / BlockSize;

    private static long RoundUp(long floats) => (floats + BlockSize - 1) / BlockSize * BlockSize;
}
