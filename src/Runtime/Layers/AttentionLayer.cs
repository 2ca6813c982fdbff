using System.ComponentModel;

namespace AttnGen;

/// <summary>
/// The part of every generated attention layer that does not depend on its shape: the parameter block and the
/// packed weights, the batch driver and its worker threads, argument checks, <c>Load</c>/<c>Save</c>, and the
/// training state (<see cref="ForwardTrain"/>, <see cref="Backward"/>, <see cref="GradientBlock"/>). A class
/// marked <c>[AttentionLayer]</c> derives from it (or from <see cref="SelfAttentionLayer{TKernels}"/>) with its
/// generated <typeparamref name="TKernels"/> struct, which carries the shape-specialised kernels.
/// </summary>
/// <typeparam name="TKernels">The layer's generated kernel table.</typeparam>
/// <remarks>
/// A layer instance owns its scratch memory, so it serves one call at a time: use one instance per thread, or
/// one call with a batch (a batch, or a single sequence, runs on up to <see cref="MaxDegreeOfParallelism"/> threads).
/// </remarks>
public abstract unsafe partial class AttentionLayer<TKernels> : IAttentionLayer, IKernelPathReport
    where TKernels : struct, IAttentionKernels
{
    private static readonly AttentionLayerInfo s_info = TKernels.Info;
    private static readonly LayerBufferLayout s_layout = TKernels.Layout;

    private readonly AlignedBuffer _parameters = new(s_layout.ParameterCount);
    private AlignedBuffer? _packed;
    // Kernels read weights packed into panels; every span handed out marks them stale, and Forward repacks.
    private bool _weightsPacked;
    private KernelIsa _isa = BestGenerated();
    // Taken by Forward, ForwardTrain, Backward and Load: a layer instance runs one call at a time.
    private CallGate _gate;
    private int _maxDegreeOfParallelism = Environment.ProcessorCount;

    // The batch driver's state: a call's arguments in fields, so worker threads reach them without a closure.
    private AlignedBuffer?[] _scratch = new AlignedBuffer?[1];
    private WorkerGroup? _workerGroup;
    private float* _query, _key, _value, _output;
    private int[] _validLengths = [];
    private bool _hasValidLengths, _training;
    private int _batch, _workers = 1, _wholeSequences;
    // One per team of workers sharing a sequence; reset per call, so the steady state allocates nothing.
    private PhaseBarrier?[] _barriers = [];

    /// <summary>Allocates the parameter block (all zeros; see <see cref="ResetParameters"/> and <see cref="Load"/>).</summary>
    protected AttentionLayer()
    {
    }

    /// <summary>The declaration, resolved.</summary>
    public AttentionLayerInfo Info => s_info;

    /// <summary>Names, shapes and offsets of the parameters, in PyTorch state-dict order.</summary>
    public IReadOnlyList<LayerParameter> Parameters => TKernels.Parameters;

    // ---- Parameters ----

    /// <summary>All parameters as one span (see <see cref="Parameters"/> for the layout).</summary>
    public Span<float> ParameterBlock
    {
        get
        {
            _weightsPacked = false;
            return _parameters.Span;
        }
    }

    /// <summary>A slice of the parameter block; marks the packed weights stale, as every span handed out does.</summary>
    /// <param name="offset">First float of the slice.</param>
    /// <param name="length">Floats in the slice.</param>
    protected Span<float> ParameterSlice(int offset, int length)
    {
        _weightsPacked = false;
        return _parameters.Slice(offset, length);
    }

    /// <summary>A parameter by its PyTorch name (for example <c>out_proj.weight</c>).</summary>
    /// <param name="name">The PyTorch state-dict name.</param>
    /// <exception cref="ArgumentException">The layer has no parameter of that name.</exception>
    public Span<float> GetParameter(string name)
    {
        foreach (LayerParameter p in TKernels.Parameters)
        {
            if (p.Name == name)
            {
                return ParameterSlice(p.Offset, p.Length);
            }
        }
        string known = TKernels.Parameters.Count == 0 ? "none" : string.Join(", ", TKernels.Parameters.Select(p => p.Name));
        throw new ArgumentException($"{ShortName} has no parameter '{name}'; its parameters are: {known}.", nameof(name));
    }

    /// <summary>
    /// Initialises every parameter from <paramref name="seed"/> as PyTorch does: Xavier-uniform in_proj_weight,
    /// nn.Linear's default for out_proj.weight and additive_v, zero biases. Same seed, same numbers, on every machine.
    /// </summary>
    /// <param name="seed">The seed.</param>
    public void ResetParameters(ulong seed) => ParameterInit.Initialize(ParameterBlock, TKernels.Parameters, seed);

    /// <summary>
    /// Marks the weights as changed, for writes through a span obtained before the last Forward call (an
    /// optimizer holding <see cref="ParameterBlock"/>, for instance). Spans obtained since need no call.
    /// </summary>
    public void ParametersChanged() => _weightsPacked = false;

    /// <summary>
    /// Loads the parameters from a safetensors file with PyTorch nn.MultiheadAttention names (in_proj_weight or
    /// q_proj_weight/k_proj_weight/v_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias, additive_v),
    /// each under <paramref name="prefix"/> (for example <c>encoder.layers.0.self_attn.</c>). F32, F16 and BF16
    /// tensors are read. The whole file is checked against this layer's shapes first: on any error nothing changes.
    /// </summary>
    /// <param name="path">The .safetensors file.</param>
    /// <param name="prefix">Prepended to every tensor name; tensors outside the prefix are ignored.</param>
    /// <exception cref="SafeTensorsFormatException">The file is not valid safetensors.</exception>
    /// <exception cref="CheckpointMismatchException">A tensor is missing, unexpected, of another shape or not floating point.</exception>
    /// <exception cref="InvalidOperationException">Another call on this instance is running.</exception>
    public void Load(string path, string prefix = "")
    {
        using CallGate.Scope gate = _gate.Enter(this, nameof(Load));
        ThrowIfDisposed();
        LayerCheckpoint.Load(path, prefix, _parameters.Span, TKernels.Parameters, s_info.Heads * s_info.HeadDim,
            s_info.KvHeads * s_info.HeadDim, s_info.Name);
        _weightsPacked = false;
    }

    /// <summary>
    /// Saves the parameters as safetensors (F32) with PyTorch names under <paramref name="prefix"/>, atomically:
    /// a temporary file in the same folder is written, flushed to disk and renamed over <paramref name="path"/>.
    /// </summary>
    /// <param name="path">The .safetensors file to write.</param>
    /// <param name="prefix">Prepended to every tensor name.</param>
    /// <param name="metadata">Optional string pairs stored under <c>__metadata__</c>.</param>
    public void Save(string path, string prefix = "", IReadOnlyDictionary<string, string>? metadata = null)
    {
        ThrowIfDisposed();
        LayerCheckpoint.Save(path, prefix, _parameters.Span, TKernels.Parameters, metadata);
    }

    // ---- Paths and threads ----

    /// <summary>
    /// The instruction-set path Forward and Backward run on; defaults to the widest path this process supports
    /// among those generated for the layer.
    /// </summary>
    /// <exception cref="NotSupportedException">Set to a path this process cannot run (see <see cref="KernelIsaSupport.Supported"/>), or one whose kernels were not generated for this layer (see <c>AttnGenInstructionSets</c>).</exception>
    public KernelIsa Isa
    {
        get => _isa;
        set
        {
            Guard.IsaSupported(value);
            if (!TKernels.HasKernels(value))
            {
                throw new NotSupportedException(
                    $"{ShortName} has no {value} kernels: the project was built with AttnGenInstructionSets set to leave them out. " +
                    $"Generated paths: {string.Join(", ", GeneratedPaths())}. Add {value} to the AttnGenInstructionSets property " +
                    "(or remove the property to generate every path) to run it.");
            }
            _isa = value;
            _weightsPacked = false;
        }
    }

    /// <summary>
    /// Most threads one call uses; defaults to the processor count. Forward gives whole sequences to the threads
    /// while at least as many are left as threads, and shares each remaining sequence among several threads, up to
    /// the processor count (a single sequence on two threads runs on both). The assignment is fixed and a shared sequence is computed the
    /// same way as on one thread, so Forward's result is bit-identical for every value. ForwardTrain and Backward
    /// share sequences the same way; their outputs and input gradients are bit-identical for every value too, and
    /// the parameter gradients, summed per worker and then in worker order, may differ in the last bits between
    /// thread counts (they repeat exactly for the same count).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set below 1.</exception>
    public int MaxDegreeOfParallelism
    {
        get => _maxDegreeOfParallelism;
        set
        {
            Guard.Parallelism(value);
            _maxDegreeOfParallelism = value;
        }
    }

    // ---- Forward ----

    /// <summary>
    /// Attention of one query sequence [SeqLen, QueryInputWidth] over key and value sequences
    /// [KvSeqLen, KvInputWidth]; <paramref name="output"/> is [SeqLen, ModelDim].
    /// </summary>
    /// <param name="query">The query rows.</param>
    /// <param name="key">The key rows.</param>
    /// <param name="value">The value rows.</param>
    /// <param name="output">Receives the output rows.</param>
    /// <exception cref="ArgumentException">A span has the wrong length; nothing is written.</exception>
    public void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output)
        => Forward(query, key, value, output, 1, default);

    /// <summary>
    /// Attention over a batch: query [batch, SeqLen, QueryInputWidth], key and value [batch, KvSeqLen, KvInputWidth],
    /// output [batch, SeqLen, ModelDim], row-major.
    /// </summary>
    /// <param name="query">The query rows, [batch, SeqLen, QueryInputWidth].</param>
    /// <param name="key">The key rows, [batch, KvSeqLen, KvInputWidth].</param>
    /// <param name="value">The value rows, [batch, KvSeqLen, KvInputWidth].</param>
    /// <param name="output">Receives the output rows, [batch, SeqLen, ModelDim].</param>
    /// <param name="batch">Number of sequences, at least 1.</param>
    /// <param name="validLengths">Empty, or per batch item the number of valid key/value positions (0..KvSeqLen); keys past it are masked, as PyTorch's key_padding_mask. A query row that sees no key gets a zero attention output.</param>
    /// <exception cref="ArgumentException">A span has the wrong length, <paramref name="batch"/> is below 1, a valid length is out of range, or <paramref name="output"/> overlaps an input; nothing is written.</exception>
    /// <exception cref="InvalidOperationException">Another call on this instance is running (a layer instance runs one call at a time).</exception>
    public void Forward(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output,
        int batch, ReadOnlySpan<int> validLengths = default)
    {
        using CallGate.Scope gate = _gate.Enter(this, nameof(Forward));
        CheckArguments(query.Length, key.Length, value.Length, output.Length, batch, validLengths);
        Guard.OutputDisjoint(output, query, key, value);
        fixed (float* q = query, k = key, v = value, y = output)
        {
            RunBatch(q, k, v, y, batch, validLengths);
        }
    }

    /// <summary>Self-attention forward for the derived self-attention layer: one input feeds q, k and v.</summary>
    private protected void ForwardSelf(ReadOnlySpan<float> input, Span<float> output, int batch, ReadOnlySpan<int> validLengths)
    {
        using CallGate.Scope gate = _gate.Enter(this, nameof(Forward));
        ThrowIfDisposed();
        Guard.Batch(batch, (long)s_info.SeqLen * Math.Max(s_info.QueryInputWidth, s_info.ModelDim));
        Guard.Length(input.Length, batch, s_info.SeqLen, s_info.QueryInputWidth, nameof(input));
        Guard.Length(output.Length, batch, s_info.SeqLen, s_info.ModelDim, nameof(output));
        Guard.ValidLengths(validLengths, batch, s_info.KvSeqLen, nameof(validLengths));
        Guard.InPlaceOrDisjoint(input, output, nameof(input), nameof(output));
        fixed (float* x = input, y = output)
        {
            RunBatch(x, x, x, y, batch, validLengths);
        }
    }

    // Checks shared by Forward and ForwardTrain; they run before anything is written.
    private void CheckArguments(int queryLength, int keyLength, int valueLength, int outputLength, int batch, ReadOnlySpan<int> validLengths)
    {
        ThrowIfDisposed();
        Guard.Batch(batch, Math.Max((long)s_info.SeqLen * Math.Max(s_info.QueryInputWidth, s_info.ModelDim), (long)s_info.KvSeqLen * s_info.KvInputWidth));
        Guard.Length(queryLength, batch, s_info.SeqLen, s_info.QueryInputWidth, "query");
        Guard.Length(keyLength, batch, s_info.KvSeqLen, s_info.KvInputWidth, "key");
        Guard.Length(valueLength, batch, s_info.KvSeqLen, s_info.KvInputWidth, "value");
        Guard.Length(outputLength, batch, s_info.SeqLen, s_info.ModelDim, "output");
        Guard.ValidLengths(validLengths, batch, s_info.KvSeqLen, "validLengths");
    }

    // Packs the weights when stale, then spreads the sequences over up to MaxDegreeOfParallelism workers: whole
    // sequences while there are at least as many as workers, then the sequences left, fewer than the workers, each
    // shared by a team of workers (a batch of one on two threads: both on the one sequence).
    private void RunBatch(float* query, float* key, float* value, float* output, int batch, ReadOnlySpan<int> validLengths)
    {
        _query = query;
        _key = key;
        _value = value;
        _output = output;
        _batch = batch;
        PackedWeights();
        _hasValidLengths = !validLengths.IsEmpty;
        if (_hasValidLengths)
        {
            if (_validLengths.Length < batch)
            {
                _validLengths = new int[batch];
            }
            validLengths.CopyTo(_validLengths);
        }
        (int workers, _wholeSequences) = PlanTeams(batch, ref _scratch, s_layout.ScratchLength);
        if (workers == 1)
        {
            RunWorker(0);
            return;
        }
        _workers = workers;
        try
        {
            (_workerGroup ??= new WorkerGroup(RunWorker)).Run(workers);
        }
        finally
        {
            _workers = 1;
        }
    }

    // The workers of a call over `batch` sequences and how many of the sequences run whole (the others are shared by
    // teams of workers), with a buffer of `length` floats per worker in `buffers` and the teams' barriers reset.
    private (int Workers, int WholeSequences) PlanTeams(int batch, ref AlignedBuffer?[] buffers, int length)
    {
        // The workers of a shared sequence must run at once (they meet between phases), so sharing is limited to as
        // many workers as processors: more would only wait for thread-pool threads that do not exist yet.
        int sharing = Math.Min(_maxDegreeOfParallelism, SequenceSplit.MaxSharingWorkers);
        int workers = batch >= _maxDegreeOfParallelism ? _maxDegreeOfParallelism : Math.Max(batch, sharing);
        if (buffers.Length < workers)
        {
            Array.Resize(ref buffers, workers);
        }
        // Made here, not by the workers: a team reads its first worker's buffer.
        for (int w = 0; w < workers; w++)
        {
            buffers[w] ??= new AlignedBuffer(length);
        }
        int whole = workers <= sharing ? batch - batch % workers : batch;
        int teams = batch - whole;
        if (_barriers.Length < teams)
        {
            Array.Resize(ref _barriers, teams);
        }
        for (int t = 0; t < teams; t++)
        {
            (_barriers[t] ??= new PhaseBarrier()).Reset(TeamStart(t + 1, teams, workers) - TeamStart(t, teams, workers));
        }
        return (workers, whole);
    }

    // The first worker of team t when `teams` teams share `workers` workers (team sizes differ by at most one).
    private static int TeamStart(int team, int teams, int workers) => team * workers / teams;

    // Worker w runs sequences w, w + workers, ... below _wholeSequences, then its part of its team's sequence: a fixed
    // assignment, so results never depend on timing.
    private void RunWorker(int worker)
    {
        int teams = _batch - _wholeSequences;
        int team = teams > 0 ? TeamOf(worker, teams, _workers) : -1;
        try
        {
            float* scratch = _scratch[worker]!.Pointer;
            for (int b = worker; b < _wholeSequences; b += _workers)
            {
                RunSequence(b, scratch, scratch, SequenceSplit.Whole);
            }
            if (team >= 0)
            {
                int first = TeamStart(team, teams, _workers);
                var split = new SequenceSplit(worker - first, TeamStart(team + 1, teams, _workers) - first, _barriers[team]);
                if (_wholeSequences > 0)
                {
                    // Forward puts the team's q, k and v in its first worker's scratch: wait until that worker's own
                    // sequences are done (ForwardTrain keeps them in the sequence's saved state; the wait costs one meeting).
                    split.Sync();
                }
                RunSequence(_wholeSequences + team, _scratch[first]!.Pointer, scratch, split);
            }
        }
        catch (PhaseBarrier.BrokenException)
        {
            // A teammate failed; the batch driver reports its exception.
        }
        catch when (team >= 0)
        {
            // Teammates waiting for this worker's share would wait forever: release them, then report the failure.
            _barriers[team]!.Break();
            throw;
        }
    }

    // The team of a worker: the last team whose first worker is not after it.
    private static int TeamOf(int worker, int teams, int workers)
    {
        int team = 0;
        while (TeamStart(team + 1, teams, workers) <= worker)
        {
            team++;
        }
        return team;
    }

    // One sequence, or this worker's part of it; scratch holds the sequence's q, k, v and context, tiles this worker's tiles.
    private void RunSequence(int b, float* scratch, float* tiles, SequenceSplit split)
    {
        float* parameters = _parameters.Pointer;
        float* packed = _packed!.Pointer;
        int validLength = _hasValidLengths ? _validLengths[b] : s_info.KvSeqLen;
        float* query = _query + (long)b * s_info.SeqLen * s_info.QueryInputWidth;
        float* key = _key + (long)b * s_info.KvSeqLen * s_info.KvInputWidth;
        float* value = _value + (long)b * s_info.KvSeqLen * s_info.KvInputWidth;
        float* output = _output + (long)b * s_info.SeqLen * s_info.ModelDim;
        if (_training)
        {
            // Training: each sequence keeps its own scratch (projected q, k, v, context), row log-sum-exp and inputs in
            // its saved state; the attention tiles stay in the worker's scratch.
            float* saved = _saved!.Pointer + (long)b * s_layout.SavedLength;
            TKernels.ForwardSequence(_isa, query, key, value, output, validLength, parameters, packed, saved, saved + s_layout.SavedLse,
                tiles, split);
            // The output is whole once every part has written its columns.
            split.Sync();
            SaveSequence(saved, query, key, value, output, split);
            return;
        }
        TKernels.ForwardSequence(_isa, query, key, value, output, validLength, parameters, packed, scratch, null, tiles, split);
    }

    // ---- Disposal ----

    /// <summary>Frees the native memory of the parameters, scratch buffers and training state.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the native memory; a derived class that owns more releases it here too.</summary>
    /// <param name="disposing">True from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }
        _parameters.Dispose();
        foreach (AlignedBuffer? buffer in _scratch)
        {
            buffer?.Dispose();
        }
        _packed?.Dispose();
        DisposeTraining();
    }

    /// <summary>Takes the one-call-at-a-time gate for <paramref name="operation"/> until the scope is disposed.</summary>
    private protected CallGate.Scope EnterCall(string operation) => _gate.Enter(this, operation);

    /// <summary>The weights packed for the current path, packing them first when a span was handed out since.</summary>
    private protected float* PackedWeights()
    {
        if (!_weightsPacked)
        {
            TKernels.PackWeights(_isa, _parameters.Pointer, (_packed ??= new AlignedBuffer(s_layout.PackedLength)).Pointer);
            _weightsPacked = true;
        }
        return _packed!.Pointer;
    }

    private protected void ThrowIfDisposed() => Guard.NotDisposed(_parameters.IsDisposed, this);

    // The type name without its namespace, for messages.
    private static string ShortName => s_info.Name[(s_info.Name.LastIndexOf('.') + 1)..];

    // The widest path this process runs among those generated.
    private static KernelIsa BestGenerated()
    {
        for (KernelIsa isa = KernelIsaSupport.Best; isa > KernelIsa.Scalar; isa--)
        {
            if (KernelIsaSupport.IsSupported(isa) && TKernels.HasKernels(isa))
            {
                return isa;
            }
        }
        return KernelIsa.Scalar;
    }

    private static IEnumerable<KernelIsa> GeneratedPaths() => Enum.GetValues<KernelIsa>().Where(TKernels.HasKernels).Reverse();

    KernelIsa IKernelPathReport.LastBackwardIsa => _lastBackwardIsa;
}

/// <summary>Which path a layer's last Backward ran on: for tests that check a forced instruction set took effect.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
internal interface IKernelPathReport
{
    /// <summary>The path of the last Backward call.</summary>
    KernelIsa LastBackwardIsa { get; }
}
