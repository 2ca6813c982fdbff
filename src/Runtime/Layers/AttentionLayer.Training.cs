namespace AttnGen;

// The training half of the layer core: ForwardTrain keeps per-sequence state, Backward turns output gradients
// into input gradients (written) and parameter gradients (added to GradientBlock).
public abstract unsafe partial class AttentionLayer<TKernels>
{
    private AlignedBuffer? _saved, _gradients;
    private AlignedBuffer?[] _backwardWork = new AlignedBuffer?[1];
    private AlignedBuffer?[] _workerGradients = new AlignedBuffer?[1];
    private WorkerGroup? _backwardGroup;
    // Where the workers meet before summing the gradient blocks, each its slice (large layers only).
    private PhaseBarrier? _reductionBarrier;
    private float* _bwdOutputGrad, _bwdQueryGrad, _bwdKeyGrad, _bwdValueGrad;
    private int _bwdBatch, _bwdWorkers = 1, _bwdWholeSequences;
    private bool _bwdSharedReduction;
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

    // Copies one sequence's inputs and output next to its forward scratch (each part of a shared sequence its share of the rows).
    private static void SaveSequence(float* saved, float* query, float* key, float* value, float* output, SequenceSplit split)
    {
        static void CopyRows(float* from, float* to, int rows, int width, SequenceSplit split)
        {
            long first = (long)split.Start(rows) * width, count = (long)split.End(rows) * width - first;
            new ReadOnlySpan<float>(from + first, (int)count).CopyTo(new Span<float>(to + first, (int)count));
        }

        CopyRows(query, saved + s_layout.SavedQuery, s_info.SeqLen, s_info.QueryInputWidth, split);
        CopyRows(key, saved + s_layout.SavedKey, s_info.KvSeqLen, s_info.KvInputWidth, split);
        CopyRows(value, saved + s_layout.SavedValue, s_info.KvSeqLen, s_info.KvInputWidth, split);
        CopyRows(output, saved + s_layout.SavedOutput, s_info.SeqLen, s_info.ModelDim, split);
    }

    // Backward over the batch, with the workers spread as in Forward: whole sequences while there are at least as many
    // as workers (worker w takes w, w + workers, ...), then each remaining sequence shared by a team. Worker 0 adds
    // into GradientBlock, every other worker into its own zeroed block, added to GradientBlock in worker order at the
    // end (by the workers, each a slice of the elements, once all are done; or by the caller for small layers); a team
    // adds into its first worker's block, each element by one worker. So parameter gradients are the same for every
    // run with the same thread count and may differ in the last bits between thread counts (input gradients never do).
    private void RunBackward(float* dy, float* dq, float* dk, float* dv, int batch)
    {
        _bwdOutputGrad = dy;
        _bwdQueryGrad = dq;
        _bwdKeyGrad = dk;
        _bwdValueGrad = dv;
        _bwdBatch = batch;
        (int workers, _bwdWholeSequences) = PlanTeams(batch, ref _backwardWork, s_layout.WorkLength);
        // Made here, not by the workers: worker 0 and every team of which it is the first write into it.
        float* gradients = Gradients.Pointer;
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
            if (WritesOwnGradients(i, workers, batch))
            {
                AlignedBuffer block = _workerGradients[i] ??= new AlignedBuffer(s_layout.ParameterCount);
                // A worker with whole sequences zeroes its block itself, before them (its teammates, if any, wait for
                // those sequences); the first worker of a team without any is joined at once, so its block is zeroed here.
                if (i >= _bwdWholeSequences)
                {
                    block.Span.Clear();
                }
            }
        }
        _bwdWorkers = workers;
        // The workers meet before summing, so they must all run at once: no more of them than processors.
        _bwdSharedReduction = s_layout.ParameterCount >= GradientReduction.SharedFromFloats && workers <= SequenceSplit.MaxSharingWorkers;
        if (_bwdSharedReduction)
        {
            (_reductionBarrier ??= new PhaseBarrier()).Reset(workers);
        }
        try
        {
            (_backwardGroup ??= new WorkerGroup(RunBackwardWorker)).Run(workers);
            if (!_bwdSharedReduction)
            {
                AddWorkerGradients(gradients, 0, s_layout.ParameterCount);
            }
        }
        finally
        {
            _bwdWorkers = 1;
            _bwdSharedReduction = false;
        }
    }

    // Adds every other worker's gradient block into GradientBlock in worker order, elements from .. to - 1.
    private void AddWorkerGradients(float* gradients, int from, int to)
    {
        for (int i = 1; i < _bwdWorkers; i++)
        {
            if (to > from && WritesOwnGradients(i, _bwdWorkers, _bwdBatch))
            {
                KernelSupport.AddInto(gradients + from, _workerGradients[i]!.Pointer + from, to - from);
            }
        }
    }

    // Whether worker w (of `workers`) adds into a gradient block of its own: it runs whole sequences, or it is the first
    // of a team (the team's other workers add into that block). The others' blocks are neither cleared nor summed.
    private bool WritesOwnGradients(int worker, int workers, int batch)
    {
        int teams = batch - _bwdWholeSequences;
        return worker < _bwdWholeSequences || (teams > 0 && TeamStart(TeamOf(worker, teams, workers), teams, workers) == worker);
    }

    // Worker w runs sequences w, w + workers, ... below the whole ones, then its part of its team's sequence: a fixed
    // assignment, so results never depend on timing.
    private void RunBackwardWorker(int worker)
    {
        int teams = _bwdBatch - _bwdWholeSequences;
        int team = teams > 0 ? TeamOf(worker, teams, _bwdWorkers) : -1;
        try
        {
            float* work = _backwardWork[worker]!.Pointer;
            if (worker > 0 && worker < _bwdWholeSequences)
            {
                _workerGradients[worker]!.Span.Clear();
            }
            for (int b = worker; b < _bwdWholeSequences; b += _bwdWorkers)
            {
                BackwardSequence(b, work, work, WorkerGradients(worker), SequenceSplit.Whole);
            }
            if (team >= 0)
            {
                int first = TeamStart(team, teams, _bwdWorkers);
                var split = new SequenceSplit(worker - first, TeamStart(team + 1, teams, _bwdWorkers) - first, _barriers[team]);
                if (_bwdWholeSequences > 0)
                {
                    // The team works in its first worker's work area and gradient block: wait until that worker's own
                    // sequences are done.
                    split.Sync();
                }
                BackwardSequence(_bwdWholeSequences + team, _backwardWork[first]!.Pointer, work, WorkerGradients(first), split);
            }
            if (_bwdSharedReduction)
            {
                // Every block is complete once all workers are here; then each sums its share of the 64-byte lines, so no
                // two workers write one line.
                var share = new SequenceSplit(worker, _bwdWorkers, _reductionBarrier);
                share.Sync();
                int lines = (s_layout.ParameterCount + 15) / 16;
                AddWorkerGradients(Gradients.Pointer, share.Start(lines) * 16, Math.Min(s_layout.ParameterCount, share.End(lines) * 16));
            }
        }
        catch (PhaseBarrier.BrokenException)
        {
            // A teammate failed; the batch driver reports its exception. Workers waiting to sum are released too.
            if (_bwdSharedReduction)
            {
                _reductionBarrier!.Break();
            }
        }
        catch
        {
            // Teammates waiting for this worker's share, and workers waiting to sum, would wait forever: release them,
            // then report the failure.
            if (team >= 0)
            {
                _barriers[team]!.Break();
            }
            if (_bwdSharedReduction)
            {
                _reductionBarrier!.Break();
            }
            throw;
        }
    }

    private float* WorkerGradients(int worker) => worker == 0 ? Gradients.Pointer : _workerGradients[worker]!.Pointer;

    // One sequence's backward on the path chosen by Isa, or this worker's part of it: work is the sequence's work area
    // (the team's first worker's), tiles this worker's.
    private void BackwardSequence(int b, float* work, float* tiles, float* gradients, SequenceSplit split)
    {
        int outputStride = s_info.SeqLen * s_info.ModelDim;
        int queryStride = s_info.SeqLen * s_info.QueryInputWidth;
        int kvStride = s_info.KvSeqLen * s_info.KvInputWidth;
        int validLength = _savedHasValidLengths ? _savedValidLengths[b] : s_info.KvSeqLen;
        float* saved = _saved!.Pointer + (long)b * s_layout.SavedLength;
        float* dy = _bwdOutputGrad + (long)b * outputStride;
        float* dq = _bwdQueryGrad + (long)b * queryStride;
        if (_bwdKeyGrad != null)
        {
            _lastBackwardIsa = TKernels.BackwardSequence(_isa, saved, dy, dq, _bwdKeyGrad + (long)b * kvStride, _bwdValueGrad + (long)b * kvStride,
                _parameters.Pointer, gradients, work, validLength, tiles, split);
            return;
        }
        // Self-attention: the input fed q, k and v, so its gradient is the sum of the three (each part its rows, once
        // every part has finished).
        float* dk = work + s_layout.WorkKeyInput, dv = work + s_layout.WorkValueInput;
        _lastBackwardIsa = TKernels.BackwardSequence(_isa, saved, dy, dq, dk, dv, _parameters.Pointer, gradients, work, validLength, tiles, split);
        split.Sync();
        int width = s_info.QueryInputWidth;
        long first = (long)split.Start(s_info.SeqLen) * width;
        int count = (int)((long)split.End(s_info.SeqLen) * width - first);
        KernelSupport.AddInto(dq + first, dk + first, count);
        KernelSupport.AddInto(dq + first, dv + first, count);
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
