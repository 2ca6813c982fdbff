using System.Linq;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit
{
    /// <summary>
    /// Emits the layer's public face: shape constants, the parameter block with PyTorch names, the
    /// <c>Forward</c> overloads with their argument checks, and the per-sequence driver that calls the kernels.
    /// </summary>
    internal static class LayerShellEmitter
    {
        public static string Emit(KernelPlan plan)
        {
            var w = new SourceWriter();
            var blocks = Begin(w, plan, "layer", withInterface: true);
            EmitConstants(w, plan);
            EmitParameters(w, plan);
            EmitForwardApi(w, plan);
            EmitDriver(w, plan);
            TrainingEmitter.Emit(w, plan);
            EmitDispose(w, plan);
            End(blocks);
            return w.ToString();
        }

        private static void EmitConstants(SourceWriter w, KernelPlan plan)
        {
            LayerSpec s = plan.Spec;
            w.Line("// ---- Shape: every kernel loop is bounded by these constants ----");
            w.Line();
            w.Line("/// <summary>Number of query heads.</summary>");
            w.Line($"public const int Heads = {Inv(s.Heads)};");
            w.Line("/// <summary>Width of one head.</summary>");
            w.Line($"public const int HeadDim = {Inv(s.HeadDim)};");
            w.Line("/// <summary>Query sequence length.</summary>");
            w.Line($"public const int SeqLen = {Inv(s.SeqLen)};");
            w.Line("/// <summary>Number of key/value heads; each serves <see cref=\"GroupSize\"/> query heads.</summary>");
            w.Line($"public const int KvHeads = {Inv(s.KvHeads)};");
            w.Line("/// <summary>Key/value sequence length.</summary>");
            w.Line($"public const int KvSeqLen = {Inv(s.KvSeqLen)};");
            w.Line("/// <summary>Width of the layer's input and output rows.</summary>");
            w.Line($"public const int ModelDim = {Inv(s.ModelDim)};");
            w.Line("/// <summary>Query heads per key/value head (Heads / KvHeads).</summary>");
            w.Line($"public const int GroupSize = {Inv(plan.GroupSize)};");
            w.Line("/// <summary>Width of the projected queries and of the attention output: Heads * HeadDim.</summary>");
            w.Line($"public const int QueryWidth = {Inv(plan.QueryWidth)};");
            w.Line("/// <summary>Width of the projected keys and values: KvHeads * HeadDim.</summary>");
            w.Line($"public const int KvWidth = {Inv(plan.KvWidth)};");
            w.Line("/// <summary>Width of one row of the query input.</summary>");
            w.Line($"public const int QueryInputWidth = {Inv(plan.QueryInputWidth)};");
            w.Line("/// <summary>Width of one row of the key and value inputs.</summary>");
            w.Line($"public const int KvInputWidth = {Inv(plan.KvInputWidth)};");
            w.Line("/// <summary>Number of floats in the parameter block (each parameter padded to 16 floats).</summary>");
            w.Line($"public const int ParameterCount = {Inv(plan.ParameterCount)};");
            w.Line("/// <summary>Whether query i sees only keys 0 .. i + (KvSeqLen - SeqLen).</summary>");
            w.Line($"public const bool IsCausal = {(s.Causal ? "true" : "false")};");
            w.Line("/// <summary>The scoring function.</summary>");
            w.Line($"public const global::AttnGen.AttentionScoring Scoring = global::AttnGen.AttentionScoring.{s.Scoring};");
            if (plan.HasScale)
            {
                w.Line("/// <summary>Factor applied to q·k before the softmax.</summary>");
                w.Line($"public const float ScoreScale = {plan.ScaleLiteral};");
            }
            w.Line();
            w.Line("// Keys scored per online-softmax step (see KernelPlanner.ScalarKeyBlock).");
            w.Line($"private const int KeyBlock = {Inv(plan.KeyBlock)};");
            if (s.Causal)
            {
                w.Line("// Bottom-right causal alignment: query i sees keys j <= i + CausalOffset.");
                w.Line($"private const int CausalOffset = {Inv(plan.CausalOffset)};");
            }
            if (s.Projections)
            {
                w.Line("// Scratch for one sequence: projected q, k, v and the attention output before out_proj.");
                w.Line($"private const int ScratchQuery = {Inv(plan.ScratchQueryOffset)};");
                w.Line($"private const int ScratchKey = {Inv(plan.ScratchKeyOffset)};");
                w.Line($"private const int ScratchValue = {Inv(plan.ScratchValueOffset)};");
                w.Line($"private const int ScratchContext = {Inv(plan.ScratchContextOffset)};");
            }
            w.Line("// Vector paths: one key/value head's packed keys and values, the output and probability tiles.");
            w.Line($"private const int ScratchKeyPack = {Inv(plan.ScratchKeyPack)};");
            w.Line($"private const int ScratchValuePack = {Inv(plan.ScratchValuePack)};");
            w.Line($"private const int ScratchOutTile = {Inv(plan.ScratchOutTile)};");
            w.Line($"private const int ScratchProbTile = {Inv(plan.ScratchProbTile)};");
            w.Line("// Floats of scratch per worker thread.");
            w.Line($"private const int ScratchLength = {Inv(plan.ScratchLength)};");
            w.Line();
        }

        private static void EmitParameters(SourceWriter w, KernelPlan plan)
        {
            w.Line("// ---- Parameters: one 64-byte-aligned block, PyTorch nn.MultiheadAttention names and layout ----");
            w.Line();
            foreach (ParameterSlot p in plan.Parameters)
            {
                w.Line($"private const int {p.Property}Offset = {Inv(p.Offset)};");
                w.Line($"private const int {p.Property}Length = {Inv(p.Length)};");
            }
            if (plan.Parameters.Length > 0)
            {
                w.Line();
            }

            using (w.Open("private static readonly global::AttnGen.LayerParameter[] s_parameterList = new global::AttnGen.LayerParameter[]", "};"))
            {
                foreach (ParameterSlot p in plan.Parameters)
                {
                    string shape = string.Join(", ", p.Shape.Select(Inv));
                    w.Line($"new global::AttnGen.LayerParameter(\"{p.Name}\", new int[] {{ {shape} }}, {p.Property}Offset, global::AttnGen.InitKind.{p.Init}, {Inv(p.FanIn)}, {Inv(p.FanOut)}),");
                }
            }
            w.Line();
            w.Line("private readonly global::AttnGen.AlignedBuffer _parameters = new global::AttnGen.AlignedBuffer(ParameterCount);");
            w.Line();
            w.Line("/// <summary>Names, shapes and offsets of this layer's parameters, in PyTorch state-dict order.</summary>");
            w.Line("public static global::System.Collections.Generic.IReadOnlyList<global::AttnGen.LayerParameter> ParameterList => s_parameterList;");
            w.Line();
            w.Line("/// <summary>All parameters as one span (see <see cref=\"ParameterList\"/> for the layout).</summary>");
            w.Line("public global::System.Span<float> ParameterBlock { get { _weightsPacked = false; return _parameters.Span; } }");
            foreach (ParameterSlot p in plan.Parameters)
            {
                w.Line();
                w.Line($"/// <summary><c>{p.Name}</c>: {p.Summary}</summary>");
                w.Line($"public global::System.Span<float> {p.Property} {{ get {{ _weightsPacked = false; return _parameters.Slice({p.Property}Offset, {p.Property}Length); }} }}");
            }
            w.Line();
            w.Line("/// <summary>A parameter by its PyTorch name (for example <c>out_proj.weight</c>).</summary>");
            w.Line("/// <exception cref=\"global::System.ArgumentException\">The layer has no parameter of that name.</exception>");
            using (w.Open("public global::System.Span<float> GetParameter(string name)"))
            {
                using (w.Open("switch (name)"))
                {
                    foreach (ParameterSlot p in plan.Parameters)
                    {
                        w.Line($"case \"{p.Name}\": return {p.Property};");
                    }
                    string known = plan.Parameters.Length == 0 ? "none" : string.Join(", ", plan.Parameters.Select(p => p.Name));
                    w.Line($"default: throw new global::System.ArgumentException($\"{plan.Spec.TypeName} has no parameter '{{name}}'; its parameters are: {known}.\", nameof(name));");
                }
            }
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Initialises every parameter from <paramref name=\"seed\"/> as PyTorch does: Xavier-uniform in_proj_weight,");
            w.Line("/// nn.Linear's default for out_proj.weight and additive_v, zero biases. Same seed, same numbers, on every machine.");
            w.Line("/// </summary>");
            w.Line("public void ResetParameters(ulong seed) => global::AttnGen.ParameterInit.Initialize(ParameterBlock, s_parameterList, seed);");
            w.Line();
            w.Line("// Kernels read weights packed into panels; every span handed out marks them stale, Forward repacks.");
            w.Line("private bool _weightsPacked;");
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Marks the weights as changed, for writes through a span obtained before the last Forward call (an");
            w.Line("/// optimizer holding <see cref=\"ParameterBlock\"/>, for instance). Spans obtained since need no call.");
            w.Line("/// </summary>");
            w.Line("public void ParametersChanged() => _weightsPacked = false;");
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Loads the parameters from a safetensors file with PyTorch nn.MultiheadAttention names (in_proj_weight or");
            w.Line("/// q_proj_weight/k_proj_weight/v_proj_weight, in_proj_bias, out_proj.weight, out_proj.bias, additive_v),");
            w.Line("/// each under <paramref name=\"prefix\"/> (for example <c>encoder.layers.0.self_attn.</c>). F32, F16 and BF16 tensors");
            w.Line("/// are read. The whole file is checked against this layer's shapes first: on any error nothing changes.");
            w.Line("/// </summary>");
            w.Line("/// <param name=\"path\">The .safetensors file.</param>");
            w.Line("/// <param name=\"prefix\">Prepended to every tensor name; tensors outside the prefix are ignored.</param>");
            w.Line("/// <exception cref=\"global::AttnGen.SafeTensorsFormatException\">The file is not valid safetensors.</exception>");
            w.Line("/// <exception cref=\"global::AttnGen.CheckpointMismatchException\">A tensor is missing, unexpected, of another shape or not floating point.</exception>");
            using (w.Open("public void Load(string path, string prefix = \"\")"))
            {
                w.Line(Gate("Load"));
                w.Line("global::AttnGen.Guard.NotDisposed(_parameters.IsDisposed, this);");
                w.Line($"global::AttnGen.LayerCheckpoint.Load(path, prefix, _parameters.Span, s_parameterList, QueryWidth, KvWidth, \"{plan.Spec.FullName}\");");
                w.Line("_weightsPacked = false;");
            }
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Saves the parameters as safetensors (F32) with PyTorch names under <paramref name=\"prefix\"/>, atomically: a");
            w.Line("/// temporary file in the same folder is written, flushed to disk and renamed over <paramref name=\"path\"/>.");
            w.Line("/// </summary>");
            w.Line("/// <param name=\"path\">The .safetensors file to write.</param>");
            w.Line("/// <param name=\"prefix\">Prepended to every tensor name.</param>");
            w.Line("/// <param name=\"metadata\">Optional string pairs stored under <c>__metadata__</c>.</param>");
            using (w.Open("public void Save(string path, string prefix = \"\", global::System.Collections.Generic.IReadOnlyDictionary<string, string>? metadata = null)"))
            {
                w.Line("global::AttnGen.Guard.NotDisposed(_parameters.IsDisposed, this);");
                w.Line("global::AttnGen.LayerCheckpoint.Save(path, prefix, _parameters.Span, s_parameterList, metadata);");
            }
            w.Line();
            EmitInfo(w, plan);
            w.Line();
        }

        private static void EmitInfo(SourceWriter w, KernelPlan plan)
        {
            LayerSpec s = plan.Spec;
            string b(bool v) => v ? "true" : "false";
            w.Line("/// <summary>The declaration, resolved: what tests, trainers and tools read through <see cref=\"global::AttnGen.IAttentionLayer\"/>.</summary>");
            w.Line("public static global::AttnGen.AttentionLayerInfo LayerInfo { get; } = new global::AttnGen.AttentionLayerInfo(");
            w.Line($"    \"{s.FullName}\", Heads, HeadDim, SeqLen, KvHeads, KvSeqLen, ModelDim, QueryInputWidth, KvInputWidth,");
            w.Line($"    Scoring, IsCausal, {b(s.Bias && s.Projections)}, {b(s.Projections)}, {plan.ScaleLiteral});");
            w.Line();
            w.Line("global::AttnGen.AttentionLayerInfo global::AttnGen.IAttentionLayer.Info => LayerInfo;");
            w.Line();
            w.Line("global::System.Collections.Generic.IReadOnlyList<global::AttnGen.LayerParameter> global::AttnGen.IAttentionLayer.Parameters => s_parameterList;");
            w.Line();
        }

        private static void EmitForwardApi(SourceWriter w, KernelPlan plan)
        {
            LayerSpec s = plan.Spec;
            w.Line("// ---- Forward ----");
            w.Line();
            // Every parameter of a documented overload needs a <param> once one has it (CS1573), or projects
            // that build documentation with warnings as errors fail on the generated code.
            const string outputDoc = "/// <param name=\"output\">Receives the output rows, [batch, SeqLen, ModelDim].</param>";
            const string batchDoc = "/// <param name=\"batch\">Number of sequences, at least 1.</param>";
            const string validDoc = "/// <param name=\"validLengths\">Empty, or per batch item the number of valid key/value positions (0..KvSeqLen); keys past it are masked, as PyTorch's key_padding_mask. A query row that sees no key gets a zero attention output.</param>";
            if (plan.HasSelfAttention)
            {
                w.Line("/// <summary>Self-attention over one sequence: <paramref name=\"input\"/> is [SeqLen, ModelDim], <paramref name=\"output\"/> is [SeqLen, ModelDim].</summary>");
                w.Line("/// <exception cref=\"global::System.ArgumentException\">A span has the wrong length; nothing is written.</exception>");
                w.Line("public void Forward(global::System.ReadOnlySpan<float> input, global::System.Span<float> output) => Forward(input, output, 1, default);");
                w.Line();
                w.Line("/// <summary>Self-attention over a batch: <paramref name=\"input\"/> and <paramref name=\"output\"/> are [batch, SeqLen, ModelDim], row-major.</summary>");
                w.Line("/// <param name=\"input\">The input rows, [batch, SeqLen, ModelDim].</param>");
                w.Line(outputDoc);
                w.Line(batchDoc);
                w.Line(validDoc);
                w.Line("/// <exception cref=\"global::System.ArgumentException\">A span has the wrong length, <paramref name=\"batch\"/> is below 1, a valid length is out of range, or <paramref name=\"output\"/> overlaps <paramref name=\"input\"/> without being the same span (in place is allowed); nothing is written.</exception>");
                w.Line(BusyDoc);
                using (w.Open("public unsafe void Forward(global::System.ReadOnlySpan<float> input, global::System.Span<float> output, int batch, global::System.ReadOnlySpan<int> validLengths = default)"))
                {
                    w.Line(Gate("Forward"));
                    w.Line("global::AttnGen.Guard.NotDisposed(_parameters.IsDisposed, this);");
                    w.Line("global::AttnGen.Guard.Batch(batch, (long)SeqLen * (QueryInputWidth > ModelDim ? QueryInputWidth : ModelDim));");
                    w.Line("global::AttnGen.Guard.Length(input.Length, batch, SeqLen, QueryInputWidth, nameof(input));");
                    w.Line("global::AttnGen.Guard.Length(output.Length, batch, SeqLen, ModelDim, nameof(output));");
                    w.Line("global::AttnGen.Guard.ValidLengths(validLengths, batch, KvSeqLen, nameof(validLengths));");
                    w.Line("global::AttnGen.Guard.InPlaceOrDisjoint(input, output, nameof(input), nameof(output));");
                    using (w.Open("fixed (float* x = input, y = output)"))
                    {
                        w.Line("RunBatch(x, x, x, y, batch, validLengths);");
                    }
                }
                w.Line();
            }

            string qShape = "[SeqLen, QueryInputWidth]";
            string kvShape = "[KvSeqLen, KvInputWidth]";
            w.Line($"/// <summary>Attention of one query sequence {qShape} over key and value sequences {kvShape}; <paramref name=\"output\"/> is [SeqLen, ModelDim].</summary>");
            w.Line("/// <exception cref=\"global::System.ArgumentException\">A span has the wrong length; nothing is written.</exception>");
            w.Line("public void Forward(global::System.ReadOnlySpan<float> query, global::System.ReadOnlySpan<float> key, global::System.ReadOnlySpan<float> value, global::System.Span<float> output)");
            w.Line("    => Forward(query, key, value, output, 1, default);");
            w.Line();
            w.Line("/// <summary>Attention over a batch: query [batch, SeqLen, QueryInputWidth], key and value [batch, KvSeqLen, KvInputWidth], output [batch, SeqLen, ModelDim], row-major.</summary>");
            w.Line("/// <param name=\"query\">The query rows, [batch, SeqLen, QueryInputWidth].</param>");
            w.Line("/// <param name=\"key\">The key rows, [batch, KvSeqLen, KvInputWidth].</param>");
            w.Line("/// <param name=\"value\">The value rows, [batch, KvSeqLen, KvInputWidth].</param>");
            w.Line(outputDoc);
            w.Line(batchDoc);
            w.Line(validDoc);
            w.Line("/// <exception cref=\"global::System.ArgumentException\">A span has the wrong length, <paramref name=\"batch\"/> is below 1, a valid length is out of range, or <paramref name=\"output\"/> overlaps an input; nothing is written.</exception>");
            w.Line(BusyDoc);
            using (w.Open("public unsafe void Forward(global::System.ReadOnlySpan<float> query, global::System.ReadOnlySpan<float> key, global::System.ReadOnlySpan<float> value, global::System.Span<float> output, int batch, global::System.ReadOnlySpan<int> validLengths = default)"))
            {
                w.Line(Gate("Forward"));
                w.Line("CheckArguments(query.Length, key.Length, value.Length, output.Length, batch, validLengths);");
                w.Line("global::AttnGen.Guard.OutputDisjoint(output, query, key, value);");
                using (w.Open("fixed (float* q = query, k = key, v = value, y = output)"))
                {
                    w.Line("RunBatch(q, k, v, y, batch, validLengths);");
                }
            }
            w.Line();
        }

        /// <summary>
        /// The first line of every public entry point that uses the layer's buffers: it throws when another call
        /// on the instance is running, and releases the gate when the method returns or throws.
        /// </summary>
        internal const string BusyDoc = "/// <exception cref=\"global::System.InvalidOperationException\">Another call on this instance is running (a layer instance runs one call at a time).</exception>";

        internal static string Gate(string operation) => $"using global::AttnGen.CallGate.Scope gate = _gate.Enter(this, \"{operation}\");";

        /// <summary>The argument checks of Forward and ForwardTrain: nothing is written before they pass.</summary>
        internal static void EmitCheckArguments(SourceWriter w)
        {
            w.Line("// Checks shared by Forward and ForwardTrain; they run before anything is written.");
            using (w.Open("private void CheckArguments(int queryLength, int keyLength, int valueLength, int outputLength, int batch, global::System.ReadOnlySpan<int> validLengths)"))
            {
                w.Line("global::AttnGen.Guard.NotDisposed(_parameters.IsDisposed, this);");
                w.Line("global::AttnGen.Guard.Batch(batch, global::System.Math.Max((long)SeqLen * global::System.Math.Max(QueryInputWidth, ModelDim), (long)KvSeqLen * KvInputWidth));");
                w.Line("global::AttnGen.Guard.Length(queryLength, batch, SeqLen, QueryInputWidth, \"query\");");
                w.Line("global::AttnGen.Guard.Length(keyLength, batch, KvSeqLen, KvInputWidth, \"key\");");
                w.Line("global::AttnGen.Guard.Length(valueLength, batch, KvSeqLen, KvInputWidth, \"value\");");
                w.Line("global::AttnGen.Guard.Length(outputLength, batch, SeqLen, ModelDim, \"output\");");
                w.Line("global::AttnGen.Guard.ValidLengths(validLengths, batch, KvSeqLen, \"validLengths\");");
            }
            w.Line();
        }

        private static void EmitDriver(SourceWriter w, KernelPlan plan)
        {
            EmitCheckArguments(w);
            w.Line("// ---- Batch driver: sequences spread over threads, each with its own scratch ----");
            w.Line();
            w.Line("private global::AttnGen.KernelIsa _isa = global::AttnGen.KernelIsaSupport.Best;");
            w.Line("private global::AttnGen.CallGate _gate; // taken by Forward, ForwardTrain, Backward and Load: one call at a time");
            w.Line("private int _maxDegreeOfParallelism = global::System.Environment.ProcessorCount;");
            w.Line("private global::AttnGen.AlignedBuffer?[] _scratch = new global::AttnGen.AlignedBuffer?[1];");
            w.Line("private global::AttnGen.AlignedBuffer? _packed;");
            w.Line("private bool _training;");
            w.Line("private int[] _validLengths = global::System.Array.Empty<int>();");
            w.Line("private bool _hasValidLengths;");
            w.Line("private int _batch, _workers;");
            w.Line("private unsafe float* _query, _key, _value, _output;");
            w.Line("private global::AttnGen.WorkerGroup? _workerGroup;");
            w.Line();
            w.Line("/// <summary>The instruction-set path Forward and Backward run on; defaults to the widest this process supports.</summary>");
            w.Line("/// <exception cref=\"global::System.NotSupportedException\">Set to a path this process cannot run (see <see cref=\"global::AttnGen.KernelIsaSupport.Supported\"/>).</exception>");
            using (w.Open("public global::AttnGen.KernelIsa Isa"))
            {
                w.Line("get => _isa;");
                w.Line("set { global::AttnGen.Guard.IsaSupported(value); _isa = value; _weightsPacked = false; }");
            }
            w.Line();
            w.Line("/// <summary>");
            w.Line("/// Most threads one Forward call uses; defaults to the processor count. Sequences of a batch are");
            w.Line("/// independent work items, so the result is the same for every value.");
            w.Line("/// </summary>");
            w.Line("/// <exception cref=\"global::System.ArgumentOutOfRangeException\">Set below 1.</exception>");
            using (w.Open("public int MaxDegreeOfParallelism"))
            {
                w.Line("get => _maxDegreeOfParallelism;");
                w.Line("set { global::AttnGen.Guard.Parallelism(value); _maxDegreeOfParallelism = value; }");
            }
            w.Line();
            w.Line("// Stores the call's arguments in fields so worker threads can reach them without a closure.");
            using (w.Open("private unsafe void RunBatch(float* query, float* key, float* value, float* output, int batch, global::System.ReadOnlySpan<int> validLengths)"))
            {
                w.Line("_query = query; _key = key; _value = value; _output = output; _batch = batch;");
                using (w.Open("if (!_weightsPacked)"))
                {
                    w.Line("PackWeights();");
                    w.Line("_weightsPacked = true;");
                }
                w.Line("_hasValidLengths = !validLengths.IsEmpty;");
                using (w.Open("if (_hasValidLengths)"))
                {
                    w.Line("if (_validLengths.Length < batch) _validLengths = new int[batch];");
                    w.Line("validLengths.CopyTo(_validLengths);");
                }
                w.Line("int workers = global::System.Math.Min(_maxDegreeOfParallelism, batch);");
                w.Line("if (_scratch.Length < workers) global::System.Array.Resize(ref _scratch, workers);");
                using (w.Open("if (workers == 1)"))
                {
                    w.Line("RunWorker(0);");
                    w.Line("return;");
                }
                w.Line("_workers = workers;");
                w.Line("(_workerGroup ??= new global::AttnGen.WorkerGroup(RunWorker)).Run(workers);");
                w.Line("_workers = 1;");
            }
            w.Line();
            PackEmitter.Emit(w, plan);
            w.Line("// Worker w runs sequences w, w + workers, ...: a fixed assignment, so results never depend on timing.");
            using (w.Open("private unsafe void RunWorker(int worker)"))
            {
                w.Line("float* parameters = _parameters.Pointer;");
                w.Line("float* packed = _packed!.Pointer;");
                w.Line("float* scratch = (_scratch[worker] ??= new global::AttnGen.AlignedBuffer(ScratchLength)).Pointer;");
                w.Line("int workers = global::System.Math.Max(_workers, 1);");
                using (w.Open("for (int b = worker; b < _batch; b += workers)"))
                {
                    w.Line("int validLength = _hasValidLengths ? _validLengths[b] : KvSeqLen;");
                    w.Line("float* query = _query + (long)b * (SeqLen * QueryInputWidth);");
                    w.Line("float* key = _key + (long)b * (KvSeqLen * KvInputWidth);");
                    w.Line("float* value = _value + (long)b * (KvSeqLen * KvInputWidth);");
                    w.Line("float* output = _output + (long)b * (SeqLen * ModelDim);");
                    using (w.Open("if (_training)"))
                    {
                        w.Line("// Training: each sequence keeps its own scratch (projected q, k, v, context) and row log-sum-exp.");
                        w.Line("float* saved = _saved!.Pointer + (long)b * TrainLength;");
                        w.Line("ForwardSequence(query, key, value, output, validLength, parameters, packed, saved, saved + TrainLse);");
                        w.Line("SaveSequence(saved, query, key, value, output);");
                        w.Line("continue;");
                    }
                    w.Line("ForwardSequence(query, key, value, output, validLength, parameters, packed, scratch, null);");
                }
            }
            w.Line();
            w.Line("// One sequence on the path chosen by Isa. The IsSupported checks are JIT-time constants, so each");
            w.Line("// branch either compiles to a plain call or disappears.");
            using (w.Open("private unsafe void ForwardSequence(float* query, float* key, float* value, float* output, int validLength, float* parameters, float* packed, float* scratch, float* lse)"))
            {
                foreach (IsaProfile isa in IsaProfile.Vector)
                {
                    using (w.Open($"if (_isa >= global::AttnGen.KernelIsa.{isa.EnumName} && {isa.SupportCheck})"))
                    {
                        w.Line($"ForwardSequence__{isa.Suffix}(query, key, value, output, validLength, parameters, packed, scratch, lse);");
                        w.Line("return;");
                    }
                }
                w.Line("ForwardSequence__scalar(query, key, value, output, validLength, parameters, packed, scratch, lse);");
            }
            w.Line();
        }

        private static void EmitDispose(SourceWriter w, KernelPlan plan)
        {
            w.Line("/// <summary>Frees the native memory of the parameters and scratch buffers.</summary>");
            using (w.Open("public void Dispose()"))
            {
                w.Line("_parameters.Dispose();");
                w.Line("foreach (global::AttnGen.AlignedBuffer? buffer in _scratch) buffer?.Dispose();");
                w.Line("_packed?.Dispose();");
                w.Line("_saved?.Dispose();");
                w.Line("_gradients?.Dispose();");
                w.Line("foreach (global::AttnGen.AlignedBuffer? buffer in _backwardWork) buffer?.Dispose();");
                w.Line("foreach (global::AttnGen.AlignedBuffer? buffer in _workerGradients) buffer?.Dispose();");
            }
        }
    }
}
