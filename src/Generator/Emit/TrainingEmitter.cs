using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit
{
    /// <summary>
    /// Emits the training face of a layer: <c>ForwardTrain</c> (a forward pass that keeps what backward needs:
    /// the inputs, the projected q, k, v, the attention output and each row's log-sum-exp), <c>Backward</c>
    /// (input gradients returned, parameter gradients accumulated into <c>GradientBlock</c>) and the state behind them.
    /// </summary>
    internal static class TrainingEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan)
        {
            w.Line("// ---- Training: ForwardTrain keeps per-sequence state, Backward turns output gradients into input and parameter gradients ----");
            w.Line();
            w.Line("// Per-sequence state of ForwardTrain: the forward scratch (q, k, v, context, tiles), then these.");
            w.Line("private const int TrainLse = ScratchLength;");
            w.Line("private const int TrainQuery = TrainLse + (Heads * SeqLen + 15) / 16 * 16;");
            w.Line("private const int TrainKey = TrainQuery + (SeqLen * QueryInputWidth + 15) / 16 * 16;");
            w.Line("private const int TrainValue = TrainKey + (KvSeqLen * KvInputWidth + 15) / 16 * 16;");
            w.Line("private const int TrainOutput = TrainValue + (KvSeqLen * KvInputWidth + 15) / 16 * 16;");
            w.Line("private const int TrainLength = TrainOutput + (SeqLen * ModelDim + 15) / 16 * 16;");
            w.Line("// Backward work area: gradients of the attention output, q, k, v, and of the key/value inputs, then the vector paths' tiles.");
            w.Line("private const int WorkContext = 0;");
            w.Line("private const int WorkQuery = WorkContext + (SeqLen * QueryWidth + 15) / 16 * 16;");
            w.Line("private const int WorkKey = WorkQuery + (SeqLen * QueryWidth + 15) / 16 * 16;");
            w.Line("private const int WorkValue = WorkKey + (KvSeqLen * KvWidth + 15) / 16 * 16;");
            w.Line("private const int WorkKeyInput = WorkValue + (KvSeqLen * KvWidth + 15) / 16 * 16;");
            w.Line("private const int WorkValueInput = WorkKeyInput + (KvSeqLen * KvInputWidth + 15) / 16 * 16;");
            w.Line("private const int WorkTiles = WorkValueInput + (KvSeqLen * KvInputWidth + 15) / 16 * 16;");
            VectorBackwardEmitter.EmitWorkConstants(w, plan);
            w.Line("private const int WorkLength = WorkTiles + WorkTilesLength;");
            w.Line();
            w.Line("private global::AttnGen.AlignedBuffer? _saved, _gradients;");
            w.Line("private global::AttnGen.AlignedBuffer?[] _backwardWork = new global::AttnGen.AlignedBuffer?[1];");
            w.Line("private global::AttnGen.AlignedBuffer?[] _workerGradients = new global::AttnGen.AlignedBuffer?[1];");
            w.Line("private global::AttnGen.WorkerGroup? _backwardGroup;");
            w.Line("private unsafe float* _bwdOutputGrad, _bwdQueryGrad, _bwdKeyGrad, _bwdValueGrad;");
            w.Line("private int _bwdBatch, _bwdWorkers = 1;");
            w.Line("private int _savedBatch;");
            w.Line("private int[] _savedValidLengths = global::System.Array.Empty<int>();");
            w.Line("private bool _savedHasValidLengths;");
            w.Line();
            w.Line("/// <summary>Parameter gradients, laid out like <see cref=\"ParameterBlock\"/>; Backward adds to them.</summary>");
            w.Line("public global::System.Span<float> GradientBlock => (_gradients ??= new global::AttnGen.AlignedBuffer(ParameterCount)).Span;");
            w.Line();
            w.Line("/// <summary>Sets every parameter gradient to zero.</summary>");
            w.Line("public void ZeroGradients() => GradientBlock.Clear();");
            w.Line();

            if (plan.HasSelfAttention)
            {
                w.Line("/// <summary>Self-attention forward that keeps what <see cref=\"Backward(global::System.ReadOnlySpan{float}, global::System.Span{float}, int, global::System.ReadOnlySpan{int})\"/> needs; same result as Forward.</summary>");
                w.Line("/// <param name=\"input\">[batch, SeqLen, ModelDim].</param>");
                w.Line("/// <param name=\"output\">[batch, SeqLen, ModelDim].</param>");
                w.Line("/// <param name=\"batch\">Number of sequences.</param>");
                w.Line("/// <param name=\"validLengths\">Empty, or per sequence the number of valid key positions.</param>");
                using (w.Open("public void ForwardTrain(global::System.ReadOnlySpan<float> input, global::System.Span<float> output, int batch, global::System.ReadOnlySpan<int> validLengths = default)"))
                {
                    w.Line("global::AttnGen.Guard.Disjoint(output, nameof(output), input, nameof(input));");
                    w.Line("ForwardTrain(input, input, input, output, batch, validLengths);");
                }
                w.Line();
            }

            w.Line("/// <summary>Forward that keeps per-sequence state for <c>Backward</c>; same result as Forward.</summary>");
            w.Line("/// <param name=\"query\">[batch, SeqLen, QueryInputWidth].</param>");
            w.Line("/// <param name=\"key\">[batch, KvSeqLen, KvInputWidth].</param>");
            w.Line("/// <param name=\"value\">[batch, KvSeqLen, KvInputWidth].</param>");
            w.Line("/// <param name=\"output\">[batch, SeqLen, ModelDim].</param>");
            w.Line("/// <param name=\"batch\">Number of sequences.</param>");
            w.Line("/// <param name=\"validLengths\">Empty, or per sequence the number of valid key positions.</param>");
            using (w.Open("public unsafe void ForwardTrain(global::System.ReadOnlySpan<float> query, global::System.ReadOnlySpan<float> key, global::System.ReadOnlySpan<float> value, global::System.Span<float> output, int batch, global::System.ReadOnlySpan<int> validLengths = default)"))
            {
                w.Line(LayerShellEmitter.Gate("ForwardTrain"));
                w.Line("CheckArguments(query.Length, key.Length, value.Length, output.Length, batch, validLengths);");
                w.Line("global::AttnGen.Guard.OutputDisjoint(output, query, key, value);");
                w.Line("global::AttnGen.Guard.Batch(batch, TrainLength);");
                using (w.Open("if (_saved is null || _saved.Length < batch * TrainLength)"))
                {
                    w.Line("_saved?.Dispose();");
                    w.Line("_saved = new global::AttnGen.AlignedBuffer(batch * TrainLength);");
                }
                w.Line("_savedBatch = 0;");
                w.Line("_training = true;");
                using (w.Open("try"))
                {
                    using (w.Open("fixed (float* q = query, k = key, v = value, y = output)"))
                    {
                        w.Line("RunBatch(q, k, v, y, batch, validLengths);");
                    }
                }
                using (w.Open("finally"))
                {
                    w.Line("_training = false;");
                }
                w.Line("if (_savedValidLengths.Length < batch) _savedValidLengths = new int[batch];");
                w.Line("_savedHasValidLengths = !validLengths.IsEmpty;");
                w.Line("validLengths.CopyTo(_savedValidLengths);");
                w.Line("_savedBatch = batch;");
            }
            w.Line();

            w.Line("// Copies one sequence's inputs and output next to its forward scratch.");
            using (w.Open("private static unsafe void SaveSequence(float* saved, float* query, float* key, float* value, float* output)"))
            {
                w.Line("new global::System.ReadOnlySpan<float>(query, SeqLen * QueryInputWidth).CopyTo(new global::System.Span<float>(saved + TrainQuery, SeqLen * QueryInputWidth));");
                w.Line("new global::System.ReadOnlySpan<float>(key, KvSeqLen * KvInputWidth).CopyTo(new global::System.Span<float>(saved + TrainKey, KvSeqLen * KvInputWidth));");
                w.Line("new global::System.ReadOnlySpan<float>(value, KvSeqLen * KvInputWidth).CopyTo(new global::System.Span<float>(saved + TrainValue, KvSeqLen * KvInputWidth));");
                w.Line("new global::System.ReadOnlySpan<float>(output, SeqLen * ModelDim).CopyTo(new global::System.Span<float>(saved + TrainOutput, SeqLen * ModelDim));");
            }
            w.Line();

            if (plan.HasSelfAttention)
            {
                w.Line("/// <summary>Backward of the last self-attention ForwardTrain: <paramref name=\"inputGrad\"/> receives dL/dinput (the sum over its q, k and v uses); parameter gradients are added to GradientBlock.</summary>");
                w.Line("/// <param name=\"outputGrad\">dL/doutput, [batch, SeqLen, ModelDim].</param>");
                w.Line("/// <param name=\"inputGrad\">Overwritten with dL/dinput, [batch, SeqLen, ModelDim].</param>");
                w.Line("/// <param name=\"batch\">The batch of the last ForwardTrain.</param>");
                w.Line("/// <param name=\"validLengths\">The valid lengths of the last ForwardTrain.</param>");
                using (w.Open("public unsafe void Backward(global::System.ReadOnlySpan<float> outputGrad, global::System.Span<float> inputGrad, int batch, global::System.ReadOnlySpan<int> validLengths = default)"))
                {
                    w.Line(LayerShellEmitter.Gate("Backward"));
                    w.Line("CheckBackward(outputGrad.Length, batch, validLengths);");
                    w.Line("global::AttnGen.Guard.Length(inputGrad.Length, batch, SeqLen, QueryInputWidth, nameof(inputGrad));");
                    w.Line("global::AttnGen.Guard.Disjoint(inputGrad, nameof(inputGrad), outputGrad, nameof(outputGrad));");
                    using (w.Open("fixed (float* dy = outputGrad, dx = inputGrad)"))
                    {
                        w.Line("RunBackward(dy, dx, null, null, batch);");
                    }
                }
                w.Line();
            }

            w.Line("/// <summary>Backward of the last ForwardTrain: input gradients are written, parameter gradients added to GradientBlock.</summary>");
            w.Line("/// <param name=\"outputGrad\">dL/doutput, [batch, SeqLen, ModelDim].</param>");
            w.Line("/// <param name=\"queryGrad\">Overwritten with dL/dquery, [batch, SeqLen, QueryInputWidth].</param>");
            w.Line("/// <param name=\"keyGrad\">Overwritten with dL/dkey, [batch, KvSeqLen, KvInputWidth].</param>");
            w.Line("/// <param name=\"valueGrad\">Overwritten with dL/dvalue, [batch, KvSeqLen, KvInputWidth].</param>");
            w.Line("/// <param name=\"batch\">The batch of the last ForwardTrain.</param>");
            w.Line("/// <param name=\"validLengths\">The valid lengths of the last ForwardTrain.</param>");
            using (w.Open("public unsafe void Backward(global::System.ReadOnlySpan<float> outputGrad, global::System.Span<float> queryGrad, global::System.Span<float> keyGrad, global::System.Span<float> valueGrad, int batch, global::System.ReadOnlySpan<int> validLengths = default)"))
            {
                w.Line(LayerShellEmitter.Gate("Backward"));
                w.Line("CheckBackward(outputGrad.Length, batch, validLengths);");
                w.Line("global::AttnGen.Guard.Length(queryGrad.Length, batch, SeqLen, QueryInputWidth, nameof(queryGrad));");
                w.Line("global::AttnGen.Guard.Length(keyGrad.Length, batch, KvSeqLen, KvInputWidth, nameof(keyGrad));");
                w.Line("global::AttnGen.Guard.Length(valueGrad.Length, batch, KvSeqLen, KvInputWidth, nameof(valueGrad));");
                w.Line("global::AttnGen.Guard.GradientsDisjoint(outputGrad, queryGrad, keyGrad, valueGrad);");
                using (w.Open("fixed (float* dy = outputGrad, dq = queryGrad, dk = keyGrad, dv = valueGrad)"))
                {
                    w.Line("RunBackward(dy, dq, dk, dv, batch);");
                }
            }
            w.Line();

            w.Line("// Backward over the batch: sequences split over workers like Forward (worker w takes w, w + workers, ...).");
            w.Line("// Worker 0 adds into GradientBlock, every other worker into its own zeroed block, added to GradientBlock in");
            w.Line("// worker order at the end; so parameter gradients are the same for every run with the same thread count and");
            w.Line("// may differ in the last bits between thread counts (input gradients never do).");
            using (w.Open("private unsafe void RunBackward(float* dy, float* dq, float* dk, float* dv, int batch)"))
            {
                w.Line("_bwdOutputGrad = dy; _bwdQueryGrad = dq; _bwdKeyGrad = dk; _bwdValueGrad = dv; _bwdBatch = batch;");
                w.Line("int workers = global::System.Math.Min(_maxDegreeOfParallelism, batch);");
                w.Line("if (_backwardWork.Length < workers) global::System.Array.Resize(ref _backwardWork, workers);");
                w.Line("if (_workerGradients.Length < workers) global::System.Array.Resize(ref _workerGradients, workers);");
                using (w.Open("if (workers == 1)"))
                {
                    w.Line("RunBackwardWorker(0);");
                    w.Line("return;");
                }
                using (w.Open("for (int i = 1; i < workers; i++)"))
                {
                    w.Line("(_workerGradients[i] ??= new global::AttnGen.AlignedBuffer(ParameterCount)).Span.Clear();");
                }
                w.Line("_bwdWorkers = workers;");
                using (w.Open("try"))
                {
                    w.Line("(_backwardGroup ??= new global::AttnGen.WorkerGroup(RunBackwardWorker)).Run(workers);");
                }
                using (w.Open("finally"))
                {
                    w.Line("_bwdWorkers = 1;");
                }
                w.Line("float* gradients = (_gradients ??= new global::AttnGen.AlignedBuffer(ParameterCount)).Pointer;");
                using (w.Open("for (int i = 1; i < workers; i++)"))
                {
                    w.Line("global::AttnGen.KernelSupport.AddInto(gradients, _workerGradients[i]!.Pointer, ParameterCount);");
                }
            }
            w.Line();

            using (w.Open("private unsafe void RunBackwardWorker(int worker)"))
            {
                w.Line("float* work = (_backwardWork[worker] ??= new global::AttnGen.AlignedBuffer(WorkLength)).Pointer;");
                w.Line("float* gradients = worker == 0 ? (_gradients ??= new global::AttnGen.AlignedBuffer(ParameterCount)).Pointer : _workerGradients[worker]!.Pointer;");
                w.Line("int workers = global::System.Math.Max(_bwdWorkers, 1);");
                using (w.Open("for (int b = worker; b < _bwdBatch; b += workers)"))
                {
                    w.Line("float* dy = _bwdOutputGrad + (long)b * (SeqLen * ModelDim);");
                    w.Line("float* dq = _bwdQueryGrad + (long)b * (SeqLen * QueryInputWidth);");
                    using (w.Open("if (_bwdKeyGrad == null)"))
                    {
                        w.Line("// Self-attention: the input fed q, k and v, so its gradient is the sum of the three.");
                        w.Line("BackwardSequence(b, dy, dq, work + WorkKeyInput, work + WorkValueInput, work, gradients);");
                        w.Line("global::AttnGen.KernelSupport.AddInto(dq, work + WorkKeyInput, SeqLen * QueryInputWidth);");
                        w.Line("global::AttnGen.KernelSupport.AddInto(dq, work + WorkValueInput, SeqLen * QueryInputWidth);");
                        w.Line("continue;");
                    }
                    w.Line("BackwardSequence(b, dy, dq, _bwdKeyGrad + (long)b * (KvSeqLen * KvInputWidth), _bwdValueGrad + (long)b * (KvSeqLen * KvInputWidth), work, gradients);");
                }
            }
            w.Line();

            w.Line("// Argument checks shared by both Backward overloads: a matching ForwardTrain must come first.");
            using (w.Open("private void CheckBackward(int outputGradLength, int batch, global::System.ReadOnlySpan<int> validLengths)"))
            {
                w.Line("global::AttnGen.Guard.NotDisposed(_parameters.IsDisposed, this);");
                using (w.Open("if (_savedBatch == 0)"))
                {
                    w.Line("throw new global::System.InvalidOperationException(\"Backward needs the state of a ForwardTrain call; call ForwardTrain first (Forward keeps no state).\");");
                }
                using (w.Open("if (batch != _savedBatch)"))
                {
                    w.Line("throw new global::System.ArgumentException($\"'batch' is {batch}; the last ForwardTrain had batch {_savedBatch}.\", nameof(batch));");
                }
                w.Line("global::AttnGen.Guard.Length(outputGradLength, batch, SeqLen, ModelDim, \"outputGrad\");");
                using (w.Open("if (validLengths.IsEmpty != !_savedHasValidLengths || (!validLengths.IsEmpty && !global::System.MemoryExtensions.SequenceEqual(validLengths, new global::System.ReadOnlySpan<int>(_savedValidLengths, 0, batch))))"))
                {
                    w.Line("throw new global::System.ArgumentException(\"'validLengths' differ from those of the last ForwardTrain.\", nameof(validLengths));");
                }
            }
            w.Line();

            w.Line("private global::AttnGen.KernelIsa _lastBackwardIsa = global::AttnGen.KernelIsa.Scalar;");
            w.Line();
            w.Line("/// <summary>The instruction-set path the last Backward ran on (for tests and diagnostics).</summary>");
            w.Line("internal global::AttnGen.KernelIsa LastBackwardIsa => _lastBackwardIsa;");
            w.Line();
            w.Line("// One sequence's backward on the path chosen by Isa (JIT-time constant checks, as in ForwardSequence).");
            using (w.Open("private unsafe void BackwardSequence(int b, float* outputGrad, float* queryGrad, float* keyGrad, float* valueGrad, float* work, float* gradients)"))
            {
                w.Line("int validLength = _savedHasValidLengths ? _savedValidLengths[b] : KvSeqLen;");
                w.Line("float* saved = _saved!.Pointer + (long)b * TrainLength;");
                foreach (IsaProfile isa in IsaProfile.Vector)
                {
                    using (w.Open($"if (_isa >= global::AttnGen.KernelIsa.{isa.EnumName} && {isa.SupportCheck})"))
                    {
                        w.Line($"BackwardSequence__{isa.Suffix}(saved, outputGrad, queryGrad, keyGrad, valueGrad, _parameters.Pointer, gradients, work, validLength);");
                        w.Line($"_lastBackwardIsa = global::AttnGen.KernelIsa.{isa.EnumName};");
                        w.Line("return;");
                    }
                }
                w.Line("BackwardSequence__scalar(saved, outputGrad, queryGrad, keyGrad, valueGrad, _parameters.Pointer, gradients, work, validLength);");
                w.Line("_lastBackwardIsa = global::AttnGen.KernelIsa.Scalar;");
            }
            w.Line();
        }
    }
}
