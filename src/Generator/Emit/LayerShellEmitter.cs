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
                w.Line($"private const int ScratchLength = {Inv(plan.ScratchLength)};");
            }
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
            if (plan.Spec.Projections)
            {
                w.Line("private global::AttnGen.AlignedBuffer? _scratch;");
            }
            w.Line();
            w.Line("/// <summary>Names, shapes and offsets of this layer's parameters, in PyTorch state-dict order.</summary>");
            w.Line("public static global::System.Collections.Generic.IReadOnlyList<global::AttnGen.LayerParameter> ParameterList => s_parameterList;");
            w.Line();
            w.Line("/// <summary>All parameters as one span (see <see cref=\"ParameterList\"/> for the layout).</summary>");
            w.Line("public global::System.Span<float> ParameterBlock => _parameters.Span;");
            foreach (ParameterSlot p in plan.Parameters)
            {
                w.Line();
                w.Line($"/// <summary><c>{p.Name}</c>: {p.Summary}</summary>");
                w.Line($"public global::System.Span<float> {p.Property} => _parameters.Slice({p.Property}Offset, {p.Property}Length);");
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
                w.Line("/// <exception cref=\"global::System.ArgumentException\">A span has the wrong length, <paramref name=\"batch\"/> is below 1 or a valid length is out of range; nothing is written.</exception>");
                using (w.Open("public unsafe void Forward(global::System.ReadOnlySpan<float> input, global::System.Span<float> output, int batch, global::System.ReadOnlySpan<int> validLengths = default)"))
                {
                    w.Line("global::AttnGen.Guard.NotDisposed(_parameters.IsDisposed, this);");
                    w.Line("global::AttnGen.Guard.Batch(batch, (long)SeqLen * (QueryInputWidth > ModelDim ? QueryInputWidth : ModelDim));");
                    w.Line("global::AttnGen.Guard.Length(input.Length, batch, SeqLen, QueryInputWidth, nameof(input));");
                    w.Line("global::AttnGen.Guard.Length(output.Length, batch, SeqLen, ModelDim, nameof(output));");
                    w.Line("global::AttnGen.Guard.ValidLengths(validLengths, batch, KvSeqLen, nameof(validLengths));");
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
            w.Line("/// <exception cref=\"global::System.ArgumentException\">A span has the wrong length, <paramref name=\"batch\"/> is below 1 or a valid length is out of range; nothing is written.</exception>");
            using (w.Open("public unsafe void Forward(global::System.ReadOnlySpan<float> query, global::System.ReadOnlySpan<float> key, global::System.ReadOnlySpan<float> value, global::System.Span<float> output, int batch, global::System.ReadOnlySpan<int> validLengths = default)"))
            {
                w.Line("global::AttnGen.Guard.NotDisposed(_parameters.IsDisposed, this);");
                w.Line("global::AttnGen.Guard.Batch(batch, global::System.Math.Max((long)SeqLen * global::System.Math.Max(QueryInputWidth, ModelDim), (long)KvSeqLen * KvInputWidth));");
                w.Line("global::AttnGen.Guard.Length(query.Length, batch, SeqLen, QueryInputWidth, nameof(query));");
                w.Line("global::AttnGen.Guard.Length(key.Length, batch, KvSeqLen, KvInputWidth, nameof(key));");
                w.Line("global::AttnGen.Guard.Length(value.Length, batch, KvSeqLen, KvInputWidth, nameof(value));");
                w.Line("global::AttnGen.Guard.Length(output.Length, batch, SeqLen, ModelDim, nameof(output));");
                w.Line("global::AttnGen.Guard.ValidLengths(validLengths, batch, KvSeqLen, nameof(validLengths));");
                using (w.Open("fixed (float* q = query, k = key, v = value, y = output)"))
                {
                    w.Line("RunBatch(q, k, v, y, batch, validLengths);");
                }
            }
            w.Line();
            _ = s;
        }

        private static void EmitDriver(SourceWriter w, KernelPlan plan)
        {
            LayerSpec s = plan.Spec;
            w.Line("// Runs the sequences of a batch one after another.");
            using (w.Open("private unsafe void RunBatch(float* query, float* key, float* value, float* output, int batch, global::System.ReadOnlySpan<int> validLengths)"))
            {
                w.Line("float* parameters = _parameters.Pointer;");
                if (s.Projections)
                {
                    w.Line("float* scratch = (_scratch ??= new global::AttnGen.AlignedBuffer(ScratchLength)).Pointer;");
                }
                using (w.Open("for (int b = 0; b < batch; b++)"))
                {
                    w.Line("int validLength = validLengths.IsEmpty ? KvSeqLen : validLengths[b];");
                    w.Line("ForwardSequence(");
                    w.Line("    query + (long)b * (SeqLen * QueryInputWidth),");
                    w.Line("    key + (long)b * (KvSeqLen * KvInputWidth),");
                    w.Line("    value + (long)b * (KvSeqLen * KvInputWidth),");
                    w.Line("    output + (long)b * (SeqLen * ModelDim),");
                    w.Line($"    validLength, parameters{(s.Projections ? ", scratch" : "")});");
                }
            }
            w.Line();

            w.Line("// One sequence: projections, the fused attention core, the output projection.");
            string scratchParam = s.Projections ? ", float* scratch" : "";
            using (w.Open($"private static unsafe void ForwardSequence(float* query, float* key, float* value, float* output, int validLength, float* parameters{scratchParam})"))
            {
                string additive = plan.IsAdditive ? ", parameters + AdditiveVOffset" : "";
                if (s.Projections)
                {
                    string bias(string offset) => s.Bias ? $", parameters + InProjBiasOffset{offset}" : "";
                    w.Line("float* q = scratch + ScratchQuery;");
                    w.Line("float* k = scratch + ScratchKey;");
                    w.Line("float* v = scratch + ScratchValue;");
                    w.Line("float* context = scratch + ScratchContext;");
                    w.Line();
                    w.Line("// q = query · W_qᵀ + b_q;  k = key · W_kᵀ + b_k;  v = value · W_vᵀ + b_v");
                    w.Line($"{plan.QueryProjection!.KernelName}__scalar(query, parameters + InProjWeightOffset{bias("")}, q);");
                    w.Line($"{plan.KvProjection!.KernelName}__scalar(key, parameters + InProjWeightOffset + QueryWidth * ModelDim{bias(" + QueryWidth")}, k);");
                    w.Line($"{plan.KvProjection!.KernelName}__scalar(value, parameters + InProjWeightOffset + (QueryWidth + KvWidth) * ModelDim{bias(" + QueryWidth + KvWidth")}, v);");
                    w.Line();
                    w.Line("// context = softmax(score(q, k)) · v, per head");
                    w.Line($"Attention__scalar(q, k, v, context, validLength{additive});");
                    w.Line();
                    w.Line("// output = context · W_oᵀ + b_o");
                    w.Line($"{plan.OutputProjection!.KernelName}__scalar(context, parameters + OutProjWeightOffset{(s.Bias ? ", parameters + OutProjBiasOffset" : "")}, output);");
                }
                else
                {
                    w.Line("// output = softmax(score(query, key)) · value, per head (no projections)");
                    w.Line($"Attention__scalar(query, key, value, output, validLength{additive});");
                    if (!plan.IsAdditive)
                    {
                        w.Line("_ = parameters;");
                    }
                }
            }
            w.Line();
        }

        private static void EmitDispose(SourceWriter w, KernelPlan plan)
        {
            w.Line("/// <summary>Frees the native memory of the parameters and scratch buffers.</summary>");
            using (w.Open("public void Dispose()"))
            {
                w.Line("_parameters.Dispose();");
                if (plan.Spec.Projections)
                {
                    w.Line("_scratch?.Dispose();");
                }
            }
        }
    }
}
