using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using AttnGen.Generator.Diagnostics;
using AttnGen.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace AttnGen.Generator.Parsing
{
    /// <summary>Reads one <c>[AttentionLayer]</c> application into a <see cref="LayerSpec"/> and its diagnostics.</summary>
    internal static class LayerParser
    {
        public const string AttributeMetadataName = "AttnGen.AttentionLayerAttribute";

        /// <summary>Generator limits; the attribute's documentation and README.md state the same numbers.</summary>
        public const int MaxHeads = 256;
        public const int MaxHeadDim = 512;
        public const int MaxSeqLen = 16384;
        public const int MaxModelDim = 16384;
        public const long MaxParameters = 1L << 28;

        /// <summary>
        /// Dotted namespace names as declared, without '@' before keywords: the emitters escape them where they
        /// write code, and hint names may not contain '@'.
        /// </summary>
        private static readonly SymbolDisplayFormat NamespaceFormat =
            new(typeQualificationStyle: SymbolDisplayTypeQualificationStyle.NameAndContainingTypesAndNamespaces);

        public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            var type = (INamedTypeSymbol)context.TargetSymbol;
            try
            {
                return ParseCore(context, type, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                throw;
            }
            catch (Exception ex)
            {
                var info = DiagnosticInfo.Create(DiagnosticDescriptors.InternalError,
                    LocationInfo.From(type.Locations.FirstOrDefault()), type.Name, ex.GetType().Name + ": " + ex.Message);
                return new ParseResult(null, new EquatableArray<DiagnosticInfo>(new[] { info }));
            }
        }

        private static ParseResult ParseCore(GeneratorAttributeSyntaxContext context, INamedTypeSymbol type, CancellationToken cancellationToken)
        {
            var diagnostics = new List<DiagnosticInfo>();
            var declaration = (ClassDeclarationSyntax)context.TargetNode;
            LocationInfo? typeLocation = LocationInfo.From(declaration.Identifier.GetLocation());
            AttributeData attribute = context.Attributes[0];
            var attributeSyntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            LocationInfo? attributeLocation = LocationInfo.From(attributeSyntax) ?? typeLocation;

            // The type itself.
            foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax(cancellationToken) is TypeDeclarationSyntax decl && !decl.Modifiers.Any(SyntaxKind.PartialKeyword))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotPartial, LocationInfo.From(decl.Identifier.GetLocation()), type.Name));
                }
            }
            if (type.ContainingType is not null)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.Nested, typeLocation, type.Name, type.ContainingType.ToDisplayString()));
            }
            if (type.TypeParameters.Length > 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.Generic, typeLocation, type.Name));
            }
            if (type.IsStatic)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.StaticType, typeLocation, type.Name));
            }
            if (type.BaseType is { SpecialType: not SpecialType.System_Object } baseType)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.HasBaseClass,
                    BaseClassLocation(type, baseType, cancellationToken) ?? typeLocation, type.Name, baseType.ToDisplayString()));
            }

            // The attribute's arguments. With a malformed attribute the compiler already reports an error.
            if (attribute.ConstructorArguments.Length != 3 || attribute.ConstructorArguments.Any(a => a.Kind == TypedConstantKind.Error))
            {
                return new ParseResult(null, new EquatableArray<DiagnosticInfo>(diagnostics));
            }
            var arguments = new ArgumentLocator(attributeSyntax, attributeLocation);
            int heads = (int)attribute.ConstructorArguments[0].Value!;
            int headDim = (int)attribute.ConstructorArguments[1].Value!;
            int seqLen = (int)attribute.ConstructorArguments[2].Value!;
            var named = new Dictionary<string, TypedConstant>(StringComparer.Ordinal);
            foreach (KeyValuePair<string, TypedConstant> pair in attribute.NamedArguments)
            {
                named[pair.Key] = pair.Value;
            }

            int modelDim = GetInt(named, "ModelDim", heads * Math.Max(0, headDim));
            int kvHeads = GetInt(named, "KvHeads", heads);
            int kvSeqLen = GetInt(named, "KvSeqLen", seqLen);
            var scoring = (ScoringKind)GetInt(named, "Scoring", 0);
            bool causal = GetBool(named, "Causal", false);
            bool projections = GetBool(named, "Projections", true);
            bool biasSet = named.ContainsKey("Bias");
            bool bias = GetBool(named, "Bias", true);
            bool scaleSet = named.ContainsKey("Scale");
            double scale = scaleSet && named["Scale"].Value is double s ? s : 0.0;

            int errorsBefore = diagnostics.Count;
            CheckRange(diagnostics, arguments, "heads", heads, MaxHeads, positional: true);
            CheckRange(diagnostics, arguments, "headDim", headDim, MaxHeadDim, positional: true);
            CheckRange(diagnostics, arguments, "seqLen", seqLen, MaxSeqLen, positional: true);
            if (named.ContainsKey("ModelDim"))
            {
                CheckRange(diagnostics, arguments, "ModelDim", modelDim, MaxModelDim, positional: false);
            }
            // The query width heads * headDim is held to the ModelDim limit even when ModelDim is set: with
            // seqLen up to MaxSeqLen that keeps every scratch offset and row index of the kernels in an int.
            if (heads > 0 && headDim > 0 && (long)heads * headDim > MaxModelDim)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OverLimit, attributeLocation,
                    named.ContainsKey("ModelDim") ? "heads * headDim" : "ModelDim (heads * headDim)",
                    ((long)heads * headDim).ToString(CultureInfo.InvariantCulture), MaxModelDim.ToString(CultureInfo.InvariantCulture)));
            }
            if (named.ContainsKey("KvHeads"))
            {
                CheckRange(diagnostics, arguments, "KvHeads", kvHeads, MaxHeads, positional: false);
            }
            if (named.ContainsKey("KvSeqLen"))
            {
                CheckRange(diagnostics, arguments, "KvSeqLen", kvSeqLen, MaxSeqLen, positional: false);
            }
            bool dimensionsValid = diagnostics.Count == errorsBefore;

            if (dimensionsValid && heads % kvHeads != 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.HeadsNotDivisible, arguments.Find("KvHeads", false),
                    heads, kvHeads, LargestDivisorAtMost(heads, kvHeads)));
            }
            if (dimensionsValid && !projections && modelDim != heads * headDim)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ModelDimMismatch, arguments.Find("ModelDim", false), modelDim, heads * headDim));
            }
            if (!projections && biasSet && bias)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BiasWithoutProjections, arguments.Find("Bias", false)));
            }
            bool scoringKnown = Enum.IsDefined(typeof(ScoringKind), scoring);
            if (!scoringKnown)
            {
                // A cast such as (AttentionScoring)7 compiles; the emitters know only the declared values.
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnknownScoring, arguments.Find("Scoring", false),
                    ((int)scoring).ToString(CultureInfo.InvariantCulture)));
            }
            if (scaleSet && scoringKnown)
            {
                string scaleText = scale.ToString("R", CultureInfo.InvariantCulture);
                if (scoring == ScoringKind.Additive)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ScaleNotApplicable, arguments.Find("Scale", false), scaleText, "Additive",
                        "additive scores v·tanh(q + k) are not scaled; the learned additive_v sets their size"));
                }
                else if (scoring == ScoringKind.DotProduct)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ScaleNotApplicable, arguments.Find("Scale", false), scaleText, "DotProduct",
                        "DotProduct means unscaled scores; use ScaledDotProduct to set a scale"));
                }
                else if (!(scale > 0) || double.IsInfinity(scale) || (float)scale == 0f || float.IsInfinity((float)scale))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ScaleNotApplicable, arguments.Find("Scale", false), scaleText, "ScaledDotProduct",
                        "the scale must be a finite positive number representable as a float"));
                }
            }
            if (dimensionsValid)
            {
                long parameters = CountParameters(heads, headDim, modelDim, kvHeads, scoring, bias && projections, projections);
                if (parameters > MaxParameters)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OverLimit, attributeLocation,
                        "The parameter count", parameters.ToString(CultureInfo.InvariantCulture), MaxParameters.ToString(CultureInfo.InvariantCulture)));
                }
                if (causal && kvSeqLen < seqLen)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.CausalRowsWithoutKeys, arguments.Find("Causal", false) ?? attributeLocation,
                        kvSeqLen, seqLen, seqLen - kvSeqLen));
                }
            }

            bool hasErrors = diagnostics.Any(d => d.Descriptor.DefaultSeverity == DiagnosticSeverity.Error);
            LayerSpec? spec = hasErrors
                ? null
                : new LayerSpec(
                    type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString(NamespaceFormat),
                    type.Name, heads, headDim, seqLen, modelDim, kvHeads, kvSeqLen, scoring, causal,
                    projections && bias, projections, scale);
            return new ParseResult(spec, new EquatableArray<DiagnosticInfo>(diagnostics));
        }

        /// <summary>Number of floats in the layer's parameter block (the planner lays out the same).</summary>
        public static long CountParameters(int heads, int headDim, int modelDim, int kvHeads, ScoringKind scoring, bool bias, bool projections)
        {
            long qWidth = (long)heads * headDim;
            long kvWidth = (long)kvHeads * headDim;
            long count = scoring == ScoringKind.Additive ? qWidth : 0;
            if (projections)
            {
                count += (qWidth + 2 * kvWidth) * modelDim + (long)modelDim * qWidth;
                if (bias)
                {
                    count += qWidth + 2 * kvWidth + modelDim;
                }
            }
            return count;
        }

        private static int LargestDivisorAtMost(int n, int limit)
        {
            for (int d = Math.Min(n, limit); d > 1; d--)
            {
                if (n % d == 0)
                {
                    return d;
                }
            }
            return 1;
        }

        private static void CheckRange(List<DiagnosticInfo> diagnostics, ArgumentLocator arguments, string name, int value, int max, bool positional)
        {
            if (value < 1)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NonPositive, arguments.Find(name, positional), name, value));
            }
            else if (value > max)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.OverLimit, arguments.Find(name, positional), name, value, max));
            }
        }

        /// <summary>Where a declaration of the type names its base class: the first entry of a base list (C# puts the class first).</summary>
        private static LocationInfo? BaseClassLocation(INamedTypeSymbol type, INamedTypeSymbol baseType, CancellationToken cancellationToken)
        {
            foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax(cancellationToken) is TypeDeclarationSyntax { BaseList: { Types.Count: > 0 } list })
                {
                    TypeSyntax first = list.Types[0].Type;
                    SimpleNameSyntax? name = first switch
                    {
                        QualifiedNameSyntax q => q.Right,
                        AliasQualifiedNameSyntax a => a.Name,
                        SimpleNameSyntax simple => simple,
                        _ => null,
                    };
                    if (name?.Identifier.ValueText == baseType.Name)
                    {
                        return LocationInfo.From(first.GetLocation());
                    }
                }
            }
            return null;
        }

        private static int GetInt(Dictionary<string, TypedConstant> named, string name, int fallback)
            => named.TryGetValue(name, out TypedConstant c) && c.Value is int i ? i : fallback;

        private static bool GetBool(Dictionary<string, TypedConstant> named, string name, bool fallback)
            => named.TryGetValue(name, out TypedConstant c) && c.Value is bool b ? b : fallback;

        /// <summary>Finds the syntax of one attribute argument, for precise diagnostic locations.</summary>
        private sealed class ArgumentLocator
        {
            private static readonly string[] PositionalNames = { "heads", "headDim", "seqLen" };
            private readonly AttributeSyntax? _syntax;
            private readonly LocationInfo? _fallback;

            public ArgumentLocator(AttributeSyntax? syntax, LocationInfo? fallback)
            {
                _syntax = syntax;
                _fallback = fallback;
            }

            public LocationInfo? Find(string name, bool positional)
            {
                SeparatedSyntaxList<AttributeArgumentSyntax> args = _syntax?.ArgumentList?.Arguments ?? default;
                int position = 0;
                foreach (AttributeArgumentSyntax arg in args)
                {
                    if (arg.NameEquals is { } nameEquals)
                    {
                        if (!positional && nameEquals.Name.Identifier.ValueText == name)
                        {
                            return LocationInfo.From(arg);
                        }
                        continue;
                    }
                    string argName = arg.NameColon?.Name.Identifier.ValueText
                        ?? (position < PositionalNames.Length ? PositionalNames[position] : "");
                    position++;
                    if (positional && argName == name)
                    {
                        return LocationInfo.From(arg);
                    }
                }
                return _fallback;
            }
        }
    }
}
