using System;
using System.Linq;
using AttnGen.Generator.Diagnostics;
using AttnGen.Generator.Emit;
using AttnGen.Generator.Model;
using AttnGen.Generator.Parsing;
using AttnGen.Generator.Planning;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Text;

namespace AttnGen.Generator
{
    /// <summary>
    /// The AttnGen incremental generator: <c>[AttentionLayer]</c> on a partial class becomes a fused,
    /// shape-specialised attention layer.
    /// Pipeline: attribute -> <see cref="ParseResult"/> (spec + diagnostics, split) -> <see cref="KernelPlan"/> -> source.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class AttentionLayerGenerator : IIncrementalGenerator
    {
        /// <summary>Tracking names of the pipeline steps, for incremental-caching tests.</summary>
        public static class Steps
        {
            public const string Parse = "Parse";
            public const string Diagnostics = "Diagnostics";
            public const string Spec = "Spec";
            public const string Plan = "Plan";
            public const string HintCollisions = "HintCollisions";
            public const string InstructionSets = "InstructionSets";
        }

        /// <inheritdoc/>
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            IncrementalValuesProvider<ParseResult> results = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    LayerParser.AttributeMetadataName,
                    // Classes and record classes (ATTN0014); a record struct is no class, which the attribute's
                    // usage makes the compiler's error.
                    static (node, _) => node is ClassDeclarationSyntax
                        || node is RecordDeclarationSyntax record && !record.ClassOrStructKeyword.IsKind(SyntaxKind.StructKeyword),
                    static (ctx, ct) => LayerParser.Parse(ctx, ct))
                .WithTrackingName(Steps.Parse);

            // Diagnostics travel on their own; the spec stream carries none, so a moved line cannot
            // invalidate the emitted source. They are reported against the current compilation's syntax
            // trees so that #pragma and .editorconfig severities apply; only layers with diagnostics pay
            // for re-reporting on an edit.
            IncrementalValuesProvider<EquatableArray<DiagnosticInfo>> diagnostics = results
                .Select(static (r, _) => r.Diagnostics)
                .Where(static d => !d.IsEmpty)
                .WithTrackingName(Steps.Diagnostics);
            context.RegisterSourceOutput(diagnostics.Combine(context.CompilationProvider), static (spc, pair) =>
            {
                foreach (DiagnosticInfo info in pair.Left)
                {
                    spc.ReportDiagnostic(info.ToDiagnostic(pair.Right));
                }
            });

            // Which vector paths to generate, from the AttnGenInstructionSets MSBuild property; an unknown name is an error.
            IncrementalValueProvider<InstructionSetSelection> instructionSets = context.AnalyzerConfigOptionsProvider
                .Select(static (options, _) => InstructionSetSelection.Parse(
                    options.GlobalOptions.TryGetValue(InstructionSetSelection.PropertyKey, out string? value) ? value : null))
                .WithTrackingName(Steps.InstructionSets);
            context.RegisterSourceOutput(instructionSets, static (spc, selection) =>
            {
                if (!selection.Unknown.IsEmpty)
                {
                    spc.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.UnknownInstructionSet, null,
                        selection.Raw, string.Join(", ", selection.Unknown)));
                }
            });

            IncrementalValuesProvider<LayerSpec> specs = results
                .Where(static r => r.Spec is not null)
                .Select(static (r, _) => r.Spec!)
                .WithTrackingName(Steps.Spec);

            IncrementalValuesProvider<KernelPlan> plans = specs
                .Select(static (spec, _) => KernelPlanner.Plan(spec))
                .WithTrackingName(Steps.Plan);

            // Hint names must differ ignoring case: the few layers whose full names differ only by case get a
            // suffix. Only the names travel here, so the set changes only when such a pair appears or goes.
            IncrementalValueProvider<EquatableArray<string>> hintCollisions = specs
                .Select(static (spec, _) => spec.FullName)
                .Collect()
                .Select(static (names, _) => HintNames.CaseCollisions(names))
                .WithTrackingName(Steps.HintCollisions);

            context.RegisterSourceOutput(plans.Combine(hintCollisions).Combine(instructionSets), static (spc, input) =>
            {
                ((KernelPlan plan, EquatableArray<string> collisions), InstructionSetSelection selection) = input;
                try
                {
                    foreach ((string hintName, string source) in LayerEmitter.Emit(plan, HintNames.Stem(plan.Spec.FullName, collisions), selection))
                    {
                        spc.AddSource(hintName, SourceText.From(source, System.Text.Encoding.UTF8));
                    }
                }
                catch (Exception ex)
                {
                    spc.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.InternalError, null, plan.Spec.FullName, ex.GetType().Name + ": " + ex.Message));
                }
            });
        }
    }
}
