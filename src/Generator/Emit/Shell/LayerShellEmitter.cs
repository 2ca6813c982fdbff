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
            // A KvCache layer is causal self-attention with projections (the parser's diagnostics ensure it).
            string baseType = plan.Spec.KvCache ? "CausalDecoderLayer" : plan.HasSelfAttention ? "SelfAttentionLayer" : "AttentionLayer";
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
            if (s.KvCache)
            {
                Constant(w, "Width of one row of a decoding step's projections: q, then k, then v (QueryWidth + 2 * KvWidth).", "int QkvWidth", Inv(plan.QueryWidth + 2 * plan.KvWidth));
            }
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
            if (s.Causal)
            {
                w.Line("// Bottom-right causal alignment: query i sees keys j <= i + CausalOffset.");
                w.Line($"private const int CausalOffset = {Inv(plan.CausalOffset)};");
            }
            foreach (BufferLayout layout in new[] { plan.Scratch, plan.Saved, plan.Work })
            {
                w.Line($"// {char.ToUpperInvariant(layout.Summary[0])}{layout.Summary.Substring(1)}.");
                foreach (BufferRegion region in layout.Regions)
                {
                    w.Line($"private const int {layout.Prefix}{region.Name} = {Inv(region.Offset)};");
                }
                w.Line($"private const int {layout.Prefix}Length = {Inv(layout.Length)};");
            }
            w.Line("// Packed projection weights, the largest any path needs.");
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
    }
}
