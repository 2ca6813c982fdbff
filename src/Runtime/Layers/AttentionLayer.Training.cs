namespace AttnGen;

// The training half of the layer core: ForwardTrain keeps per-sequence state, Backward turns output gradients
// into input gradients (written) and parameter gradients (added to GradientBlock).
public abstract unsafe partial class AttentionLayer<TKernels>
{
    private AlignedBuffer? _saved, _gradients;
    private AlignedBuffer?[] _backwardWork = new AlignedBuffer?[1];
    private AlignedBuffer?[] _workerGradients = new AlignedBuffer?[1];
    private WorkerGroup? _backwardGroup;
    private float* _bwdOutputGrad, _bwdQueryGrad, _bwdKeyGrad, _bwdValueGrad;
    private int _bwdBatch, _bwdWorkers = 1;
    private int _savedBatch;
    private int[] _savedValidLengths = [];
    private bool _savedHasValidLengths;
    private KernelIsa _lastBackwardIsa = KernelIsa.Scalar;

    /// <summary>Parameter gradients, laid out like <see cref="ParameterBlock"/>; Backward adds to them.</summary>
    public Span<float> GradientBlock => Gradients.Span;

    private AlignedBuffer Gradients => _gradients ??= new AlignedBuffer(s_layout.ParameterCount);

    /// <summary>Sets every parameter gradient to zero.</summary>
    public void ZeroGradients() => GradientBlock.Clear();

    /// <summary>
    /// Forward that keeps per-sequence state for <see cref="Backward"/> (the inputs, projected q, k, v, the attention
    /// output and each row's log-sum-exp); same result as Forward.
    /// </summary>
    /// <param name="query">[batch, SeqLen, QueryInputWidth].</param>
    /// <param name="key">[batch, KvSeqLen, KvInputWidth].</param>
    /// <param name="value">[batch, KvSeqLen, KvInputWidth].</param>
    /// <param name="output">[batch, SeqLen, ModelDim].</param>
    /// <param name="batch">Number of sequences.</param>
    /// <param name="validLengths">Empty, or per sequence the number of valid key positions.</param>
    /// <exception cref="ArgumentException">A span has the wrong length, <paramref name="batch"/> is below 1, a valid length is out of range, or <paramref name="output"/> overlaps an input; nothing is written.</exception>
    /// <exception cref="InvalidOperationException">Another call on this instance is running.</exception>
    public void ForwardTrain(ReadOnlySpan<float> query, ReadOnlySpan<float> key, ReadOnlySpan<float> value, Span<float> output,
        int batch, ReadOnlySpan<int> validLengths = default)
    {
        using CallGate.Scope gate = _gate.Enter(this, nameof(ForwardTrain));
        CheckArguments(query.Length, key.Length, value.Length, output.Length, batch, validLengths);
        Guard.OutputDisjoint(output, query, key, value);
        Guard.Batch(batch, s_layout.SavedLength);
        if (_saved is null || _saved.Length < batch * s_layout.SavedLength)
        {
            _saved?.Dispose();
            _saved = new AlignedBuffer(batch * s_layout.SavedLength);
        }
        _savedBatch = 0;
        _training = true;
        try
        {
            fixed (float* q = query, k = key, v = value, y = output)
            {
                RunBatch(q, k, v, y, batch, validLengths);
            }
        }
        finally
        {
            _training = false;
        }
        if (_savedValidLengths.Length < batch)
        {
            _savedValidLengths = new int[batch];
        }
        _savedHasValidLengths = !validLengths.IsEmpty;
        validLengths.CopyTo(_savedValidLengths);
        _savedBatch = batch;
    }

    /// <summary>
    /// Backward of the last <see cref="ForwardTrain"/>: input gradients are written, parameter gradients added to
    /// <see cref="GradientBlock"/>.
    /// </summary>
    /// <param name="outputGrad">dL/doutput, [batch, SeqLen, ModelDim].</param>
    /// <param name="queryGrad">Overwritten with dL/dquery, [batch, SeqLen, QueryInputWidth].</param>
    /// <param name="keyGrad">Overwritten with dL/dkey, [batch, KvSeqLen, KvInputWidth].</param>
    /// <param name="valueGrad">Overwritten with dL/dvalue, [batch, KvSeqLen, KvInputWidth].</param>
    /// <param name="batch">The batch of the last ForwardTrain.</param>
    /// <param name="validLengths">The valid lengths of the last ForwardTrain.</param>
    /// <exception cref="InvalidOperationException">No ForwardTrain came first.</exception>
    /// <exception cref="ArgumentException">A span has the wrong length, the batch or valid lengths differ from the last ForwardTrain's, or gradient spans overlap each other or <paramref name="outputGrad"/>; nothing is written.</exception>
    /// <exception cref="InvalidOperationException">Another call on this instance is running.</exception>
    public void Backward(ReadOnlySpan<float> outputGrad, Span<float> queryGrad, Span<float> keyGrad, Span<float> valueGrad,
        int batch, ReadOnlySpan<int> validLengths = default)
    {
        using CallGate.Scope gate = _gate.Enter(this, nameof(Backward));
        CheckBackward(outputGrad.Length, batch, validLengths);
        Guard.Length(queryGrad.Length, batch, s_info.SeqLen, s_info.QueryInputWidth, nameof(queryGrad));
        Guard.Length(keyGrad.Length, batch, s_info.KvSeqLen, s_info.KvInputWidth, nameof(keyGrad));
        Guard.Length(valueGrad.Length, batch, s_info.KvSeqLen, s_info.KvInputWidth, nameof(valueGrad));
        Guard.GradientsDisjoint(outputGrad, queryGrad, keyGrad, valueGrad);
        fixed (float* dy = outputGrad, dq = queryGrad, dk = keyGrad, dv = valueGrad)
        {
            RunBackward(dy, dq, dk, dv, batch);
        }
    }

    /// <summary>Self-attention backward for the derived self-attention layer: the input gradient sums its q, k and v uses.</summary>
    private protected void BackwardSelf(ReadOnlySpan<float> outputGrad, Span<float> inputGrad, int batch, ReadOnlySpan<int> validLengths)
    {
        using CallGate.Scope gate = _gate.Enter(this, nameof(Backward));
        CheckBackward(outputGrad.Length, batch, validLengths);
        Guard.Length(inputGrad.Length, batch, s_info.SeqLen, s_info.QueryInputWidth, nameof(inputGrad));
        Guard.Disjoint(inputGrad, nameof(inputGrad), outputGrad, nameof(outputGrad));
        fixed (float* dy = outputGrad, dx = inputGrad)
        {
            RunBackward(dy, dx, null, null, batch);
        }
    }

    // Argument checks shared by both Backward overloads: a matching ForwardTrain must come first.
    private void CheckBackward(int outputGradLength, int batch, ReadOnlySpan<int> validLengths)
    {
        ThrowIfDisposed();
        if (_savedBatch == 0)
        {
            throw new InvalidOperationException("Backward needs the state of a ForwardTrain call; call ForwardTrain first (Forward keeps no state).");
        }
        if (batch != _savedBatch)
        {
            throw new ArgumentException($"'batch' is {batch}; the last ForwardTrain had batch {_savedBatch}.", nameof(batch));
        }
        Guard.Length(outputGradLength, batch, s_info.SeqLen, s_info.ModelDim, "outputGrad");
        if (validLengths.IsEmpty != !_savedHasValidLengths
            || (!validLengths.IsEmpty && !validLengths.SequenceEqual(new ReadOnlySpan<int>(_savedValidLengths, 0, batch))))
        {
            throw new ArgumentException("'validLengths' differ from those of the last ForwardTrain.", nameof(validLengths));
        }
    }

    // Copies one sequence's inputs and output next to its forward scratch.
    private static void SaveSequence(float* saved, float* query, float* key, float* value, float* output)
    {
        int queryLength = s_info.SeqLen * s_info.QueryInputWidth;
        int kvLength = s_info.KvSeqLen * s_info.KvInputWidth;
        int outputLength = s_info.SeqLen * s_info.ModelDim;
        new ReadOnlySpan<float>(query, queryLength).CopyTo(new Span<float>(saved + s_layout.SavedQuery, queryLength));
        new ReadOnlySpan<float>(key, kvLength).CopyTo(new Span<float>(saved + s_layout.SavedKey, kvLength));
        new ReadOnlySpan<float>(value, kvLength).CopyTo(new Span<float>(saved + s_layout.SavedValue, kvLength));
        new ReadOnlySpan<float>(output, outputLength).CopyTo(new Span<float>(saved + s_layout.SavedOutput, outputLength));
    }

    // Backward over the batch: sequences split over workers like Forward (worker w takes w, w + workers, ...).
    // Worker 0 adds into GradientBlock, every other worker into its own zeroed block, added to GradientBlock in
    // worker order at the end; so parameter gradients are the same for every run with the same thread count and
    // may differ in the last bits between thread counts (input gradients never do).
    private void RunBackward(float* dy, float* dq, float* dk, float* dv, int batch)
    {
        _bwdOutputGrad = dy;
        _bwdQueryGrad = dq;
        _bwdKeyGrad = dk;
        _bwdValueGrad = dv;
        _bwdBatch = batch;
        int workers = Math.Min(_maxDegreeOfParallelism, batch);
        if (_backwardWork.Length < workers)
        {
            Array.Resize(ref _backwardWork, workers);
        }
        if (_workerGradients.Length < workers)
        {
            Array.Resize(ref _workerGradients, workers);
        }
        if (workers == 1)
        {
            RunBackwardWorker(0);
            return;
        }
        for (int i = 1; i < workers; i++)
        {
            (_workerGradients[i] ??= new AlignedBuffer(s_layout.ParameterCount)).Span.Clear();
        }
        _bwdWorkers = workers;
        try
        {
            (_backwardGroup ??= new WorkerGroup(RunBackwardWorker)).Run(workers);
        }
        finally
        {
            _bwdWorkers = 1;
        }
        float* gradients = Gradients.Pointer;
        for (int i = 1; i < workers; i++)
        {
            KernelSupport.AddInto(gradients, _workerGradients[i]!.Pointer, s_layout.ParameterCount);
        }
    }

    private void RunBackwardWorker(int worker)
    {
        float* work = (_backwardWork[worker] ??= new AlignedBuffer(s_layout.WorkLength)).Pointer;
        float* gradients = worker == 0 ? Gradients.Pointer : _workerGradients[worker]!.Pointer;
        int outputStride = s_info.SeqLen * s_info.ModelDim;
        int queryStride = s_info.SeqLen * s_info.QueryInputWidth;
        int kvStride = s_info.KvSeqLen * s_info.KvInputWidth;
        for (int b = worker; b < _bwdBatch; b += _bwdWorkers)
        {
            float* dy = _bwdOutputGrad + (long)b * outputStride;
            float* dq = _bwdQueryGrad + (long)b * queryStride;
            if (_bwdKeyGrad == null)
            {
                // Self-attention: the input fed q, k and v, so its gradient is the sum of the three.
                float* dk = work + s_layout.WorkKeyInput, dv = work + s_layout.WorkValueInput;
                BackwardSequence(b, dy, dq, dk, dv, work, gradients);
                KernelSupport.AddInto(dq, dk, queryStride);
                KernelSupport.AddInto(dq, dv, queryStride);
                continue;
            }
            BackwardSequence(b, dy, dq, _bwdKeyGrad + (long)b * kvStride, _bwdValueGrad + (long)b * kvStride, work, gradients);
        }
    }

    // One sequence's backward on the path chosen by Isa.
    private void BackwardSequence(int b, float* outputGrad, float* queryGrad, float* keyGrad, float* valueGrad, float* work, float* gradients)
    {
        int validLength = _savedHasValidLengths ? _savedValidLengths[b] : s_info.KvSeqLen;
        float* saved = _saved!.Pointer + (long)b * s_layout.SavedLength;
        _lastBackwardIsa = TKernels.BackwardSequence(_isa, saved, outputGrad, queryGrad, keyGrad, valueGrad, _parameters.Pointer, gradients, work, validLength);
    }

    private void DisposeTraining()
    {
        _saved?.Dispose();
        _gradients?.Dispose();
        foreach (AlignedBuffer? buffer in _backwardWork)
        {
            buffer?.Dispose();
        }
        foreach (AlignedBuffer? buffer in _workerGradients)
        {
            buffer?.Dispose();
        }
    }
}
