using System.Linq;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Shell
{
    /// <summary>
    /// Emits the layer's own file: the partial class deriving from the runtime layer core with its kernel table
    /// as type argument, the shape constants, the buffer layout the kernels address, and the parameters by
    /// their PyTorch names. Everything that does not depend on the shape (buffers, the batch driver, argument
    /// checks, training state, Load/Save) lives once in <c>AttnGen.AttentionLayer&lt;TKernels&gt;</c>.
    /// </summary>
    internal static class LayerShellEmitter
    {
        public static string Emit(KernelPlan plan, InstructionSetSelection selection)
        {
            var w = new SourceWriter();
            string baseType = plan.HasSelfAttention ? "SelfAttentionLayer" : "AttentionLayer";
            var blocks = Begin(w, plan, "layer", $"global::AttnGen.{baseType}<{Identifier(plan.Spec.TypeName)}.Kernels>");
            EmitConstants(w, plan);
            EmitLayout(w, plan);
            EmitParameters(w, plan);
            KernelTableEmitter.Emit(w, plan, selection);
            End(blocks);
            return w.ToString();
        }

        private static void EmitConstants(SourceWriter w, KernelPlan plan)
        {
            LayerSpec s = plan.Spec;
            w.Line("// ---- Shape: every kernel loop is bounded by these constants ----");
            w.Line();
            Constant(w, "Number of query heads.", "int Heads", Inv(s.Heads));
            Constant(w, "Width of one head.", "int HeadDim", Inv(s.HeadDim));
            Constant(w, "Query sequence length.", "int SeqLen", Inv(s.SeqLen));
            Constant(w, "Number of key/value heads; each serves <see cref=\"GroupSize\"/> query heads.", "int KvHeads", Inv(s.KvHeads));
            Constant(w, "Key/value sequence length.", "int KvSeqLen", Inv(s.KvSeqLen));
            Constant(w, "Width of the layer's input and output rows.", "int ModelDim", Inv(s.ModelDim));
            Constant(w, "Query heads per key/value head (Heads / KvHeads).", "int GroupSize", Inv(plan.GroupSize));
            Constant(w, "Width of the projected queries and of the attention output: Heads * HeadDim.", "int QueryWidth", Inv(plan.QueryWidth));
            Constant(w, "Width of the projected keys and values: KvHeads * HeadDim.", "int KvWidth", Inv(plan.KvWidth));
            Constant(w, "Width of one row of the query input.", "int QueryInputWidth", Inv(plan.QueryInputWidth));
            Constant(w, "Width of one row of the key and value inputs.", "int KvInputWidth", Inv(plan.KvInputWidth));
            Constant(w, "Number of floats in the parameter block (each parameter padded to 16 floats).", "int ParameterCount", Inv(plan.ParameterCount));
            Constant(w, "Whether query i sees only keys 0 .. i + (KvSeqLen - SeqLen).", "bool IsCausal", s.Causal ? "true" : "false");
            Constant(w, "The scoring function.", "global::AttnGen.AttentionScoring Scoring", "global::AttnGen.AttentionScoring." + s.Scoring);
            if (plan.HasScale)
            {
                Constant(w, "Factor applied to q·k before the softmax.", "float ScoreScale", plan.ScaleLiteral);
            }
            w.Line();
        }

        private static void Constant(SourceWriter w, string summary, string declaration, string value)
        {
            w.Line($"/// <summary>{summary}</summary>");
            w.Line($"public const {declaration} = {value};");
        }

        private static void EmitLayout(SourceWriter w, KernelPlan plan)
        {
            LayerSpec s = plan.Spec;
            w.Line("// ---- Buffer layout: offsets, in floats, that the kernels address ----");
            w.Line();
            w.Line("// Keys scored per online-softmax step on the scalar path.");
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
            w.Line("// Packed projection weights, the largest any vector path needs.");
            w.Line($"private const int PackedLength = {Inv(plan.PackedLength)};");
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
            w.Line("/// <summary>Names, shapes and offsets of this layer's parameters, in PyTorch state-dict order.</summary>");
            w.Line("public static global::System.Collections.Generic.IReadOnlyList<global::AttnGen.LayerParameter> ParameterList => Kernels.Parameters;");
            w.Line();
            w.Line("/// <summary>The declaration, resolved: what tests, trainers and tools read through <see cref=\"global::AttnGen.IAttentionLayer\"/>.</summary>");
            w.Line("public static global::AttnGen.AttentionLayerInfo LayerInfo => Kernels.Info;");
            foreach (ParameterSlot p in plan.Parameters)
            {
                w.Line();
                w.Line($"/// <summary><c>{p.Name}</c>: {p.Summary}</summary>");
                w.Line($"public global::System.Span<float> {p.Property} => ParameterSlice({p.Property}Offset, {p.Property}Length);");
            }
            w.Line();
        }

        /// <summary>The parameter list entries, for the kernel table.</summary>
        internal static string ParameterEntry(ParameterSlot p)
            => $"new global::AttnGen.LayerParameter(\"{p.Name}\", new int[] {{ {string.Join(", ", p.Shape.Select(Inv))} }}, {p.Property}Offset, global::AttnGen.InitKind.{p.Init}, {Inv(p.FanIn)}, {Inv(p.FanOut)}),";
    }
}
