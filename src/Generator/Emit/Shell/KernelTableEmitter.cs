using System.Linq;
using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Shell
{
    /// <summary>
    /// Emits the nested <c>Kernels</c> struct: the layer's implementation of <c>AttnGen.IAttentionKernels</c>,
    /// which the runtime core takes as a type argument. It carries the resolved declaration, the parameter list,
    /// the buffer layout, and one dispatch per entry point that picks the widest generated path not above the
    /// layer's <c>Isa</c>; the <c>IsSupported</c> checks are JIT-time constants, so each branch compiles to a
    /// direct call or disappears.
    /// </summary>
    internal static class KernelTableEmitter
    {
        public static void Emit(SourceWriter w, KernelPlan plan, InstructionSetSelection selection)
        {
            LayerSpec s = plan.Spec;
            string b(bool v) => v ? "true" : "false";
            w.Line("// ---- Kernel table: what the runtime core (AttnGen.AttentionLayer<TKernels>) calls ----");
            w.Line();
            w.Line("/// <summary>The kernels of this layer's shape, one path per instruction set; used by the runtime core, not called directly.</summary>");
            w.Line("[global::System.ComponentModel.EditorBrowsable(global::System.ComponentModel.EditorBrowsableState.Never)]");
            using (w.Open("public readonly struct Kernels : global::AttnGen.IAttentionKernels"))
            {
                using (w.Open("private static readonly global::AttnGen.LayerParameter[] s_parameters = new global::AttnGen.LayerParameter[]", "};"))
                {
                    foreach (ParameterSlot p in plan.Parameters)
                    {
                        w.Line(ParameterEntry(p));
                    }
                }
                w.Line();
                w.Line("/// <inheritdoc/>");
                w.Line("public static global::AttnGen.AttentionLayerInfo Info { get; } = new global::AttnGen.AttentionLayerInfo(");
                w.Line($"    \"{s.FullName}\", Heads, HeadDim, SeqLen, KvHeads, KvSeqLen, ModelDim, QueryInputWidth, KvInputWidth,");
                string decoding = s.Rotary || s.KvCache
                    ? $" {{ Rotary = {b(s.Rotary)}, RotaryBase = {RotaryBaseLiteral(s)}, KvCache = {b(s.KvCache)} }}"
                    : "";
                w.Line($"    Scoring, IsCausal, {b(s.Bias && s.Projections)}, {b(s.Projections)}, {plan.ScaleLiteral}){decoding};");
                w.Line();
                if (s.Rotary)
                {
                    w.Line("/// <inheritdoc/>");
                    w.Line($"public static global::AttnGen.RotaryTable? Rotary {{ get; }} = new global::AttnGen.RotaryTable(HeadDim, SeqLen, {RotaryBaseLiteral(s)});");
                    w.Line();
                }
                w.Line("/// <inheritdoc/>");
                w.Line("public static global::System.Collections.Generic.IReadOnlyList<global::AttnGen.LayerParameter> Parameters => s_parameters;");
                w.Line();
                w.Line("/// <inheritdoc/>");
                w.Line("public static global::AttnGen.LayerBufferLayout Layout { get; } = new global::AttnGen.LayerBufferLayout(");
                w.Line("    ParameterCount, PackedLength, ScratchLength, TrainLength, TrainLse, TrainQuery, TrainKey, TrainValue, TrainOutput,");
                w.Line("    WorkLength, WorkKeyInput, WorkValueInput);");
                w.Line();
                EmitHasKernels(w, selection);
                EmitPackWeights(w, plan, selection);
                EmitDispatch(w, selection, "void ForwardSequence", "float* query, float* key, float* value, float* output, int validLength, float* parameters, float* packed, float* scratch, float* lse, float* tiles, global::AttnGen.SequenceSplit split",
                    "ForwardSequence", "query, key, value, output, validLength, parameters, packed, scratch, lse, tiles, split", returnsPath: false);
                w.Line();
                EmitDispatch(w, selection, "global::AttnGen.KernelIsa BackwardSequence", "float* saved, float* outputGrad, float* queryGrad, float* keyGrad, float* valueGrad, float* parameters, float* gradients, float* work, int validLength, float* tiles, global::AttnGen.SequenceSplit split",
                    "BackwardSequence", "saved, outputGrad, queryGrad, keyGrad, valueGrad, parameters, gradients, work, validLength, tiles, split", returnsPath: true);
                if (s.KvCache)
                {
                    // Every path reads the panels PackWeights packed for it.
                    w.Line();
                    EmitDispatch(w, selection, "void ProjectRows", "float* input, int rows, float* packed, float* qkv",
                        "ProjectRows", "input, rows, packed, qkv", returnsPath: false);
                    w.Line();
                    EmitDispatch(w, selection, "void OutputRows", "float* context, int rows, float* packed, float* output",
                        "OutputRows", "context, rows, packed, output", returnsPath: false);
                }
            }
        }

        // The rotary base as a C# double literal that round-trips.
        private static string RotaryBaseLiteral(LayerSpec s)
            => s.RotaryBase.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "d";

        private static void EmitHasKernels(SourceWriter w, InstructionSetSelection selection)
        {
            w.Line("/// <inheritdoc/>");
            var paths = new System.Collections.Generic.List<string> { "global::AttnGen.KernelIsa." + IsaProfile.Scalar.EnumName };
            foreach (IsaProfile isa in selection.Profiles)
            {
                paths.Add("global::AttnGen.KernelIsa." + isa.EnumName);
            }
            w.Line($"public static bool HasKernels(global::AttnGen.KernelIsa isa) => isa is {string.Join(" or ", paths)};");
            w.Line();
        }

        private static void EmitPackWeights(SourceWriter w, KernelPlan plan, InstructionSetSelection selection)
        {
            w.Line("/// <inheritdoc/>");
            using (w.Open("public static unsafe void PackWeights(global::AttnGen.KernelIsa isa, float* parameters, float* packed)"))
            {
                if (!plan.Spec.Projections)
                {
                    w.Line("// No projections: the attention core reads its inputs directly, nothing to pack.");
                }
                else
                {
                    foreach (IsaProfile isa in selection.Profiles)
                    {
                        w.Line($"if ({Condition(isa)}) {{ PackWeights__{isa.Suffix}(parameters, packed); return; }}");
                    }
                    w.Line($"PackWeights__{IsaProfile.Scalar.Suffix}(parameters, packed);");
                }
            }
            w.Line();
        }

        private static void EmitDispatch(SourceWriter w, InstructionSetSelection selection, string signature, string parameters, string kernel, string arguments, bool returnsPath)
        {
            w.Line("/// <inheritdoc/>");
            using (w.Open($"public static unsafe {signature}(global::AttnGen.KernelIsa isa, {parameters})"))
            {
                foreach (IsaProfile isa in selection.Profiles)
                {
                    string exit = returnsPath ? $"return global::AttnGen.KernelIsa.{isa.EnumName};" : "return;";
                    w.Line($"if ({Condition(isa)}) {{ {kernel}__{isa.Suffix}({arguments}); {exit} }}");
                }
                // The scalar path, always generated and always supported, is the last.
                w.Line($"{kernel}__{IsaProfile.Scalar.Suffix}({arguments});");
                if (returnsPath)
                {
                    w.Line($"return global::AttnGen.KernelIsa.{IsaProfile.Scalar.EnumName};");
                }
            }
        }

        /// <summary>The parameter list entries, one per line of the parameter list.</summary>
        private static string ParameterEntry(ParameterSlot p)
            => $"new global::AttnGen.LayerParameter(\"{p.Name}\", new int[] {{ {string.Join(", ", p.Shape.Select(Inv))} }}, {p.Property}Offset, global::AttnGen.InitKind.{p.Init}, {Inv(p.FanIn)}, {Inv(p.FanOut)}),";

        // The path is taken when the layer asks for it or a wider one and this process supports it.
        private static string Condition(IsaProfile isa) => $"isa >= global::AttnGen.KernelIsa.{isa.EnumName} && {isa.SupportCheck}";
    }
}
