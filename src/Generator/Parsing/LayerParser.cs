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
        /// Names a layer type cannot have: every member the generated code adds to a layer (a member cannot
        /// share its type's name) and the file-level aliases of the kernel files (<see cref="KernelFileAliases"/>).
        /// Names with "__" are refused as well: the kernels are named <c>{op}__{isa}</c>, and C# reserves such
        /// identifiers. Whoever adds a generated member adds its name here; a test checks the list against the
        /// generated code of every test layer.
        /// </summary>
        public static readonly string[] ReservedNames =
        {
            // Shape constants.
            "Heads", "HeadDim", "SeqLen", "KvHeads", "KvSeqLen", "ModelDim", "GroupSize", "QueryWidth", "KvWidth",
            "QueryInputWidth", "KvInputWidth", "ParameterCount", "IsCausal", "Scoring", "ScoreScale", "KeyBlock", "CausalOffset",
            // Scratch and training work-area offsets.
            "ScratchQuery", "ScratchKey", "ScratchValue", "ScratchContext", "ScratchKeyPack", "ScratchValuePack",
            "ScratchOutTile", "ScratchProbTile", "ScratchQueryTile", "ScratchLength",
            "TrainLse", "TrainQuery", "TrainKey", "TrainValue", "TrainOutput", "TrainLength",
            "WorkContext", "WorkQuery", "WorkKey", "WorkValue", "WorkKeyInput", "WorkValueInput", "WorkTiles",
            "WorkTileKeysT", "WorkTileValuesT", "WorkTileKeys", "WorkTileKeyGrad", "WorkTileValueGrad", "WorkTileQuery",
            "WorkTileOutGrad", "WorkTileQueryGrad", "WorkTileProb", "WorkTileScoreGrad", "WorkTileAdditiveV", "WorkTileAdditiveVGrad",
            "WorkTilesLength", "WorkLength",
            // Parameters.
            "InProjWeightOffset", "InProjWeightLength", "InProjBiasOffset", "InProjBiasLength",
            "OutProjWeightOffset", "OutProjWeightLength", "OutProjBiasOffset", "OutProjBiasLength",
            "AdditiveVOffset", "AdditiveVLength",
            "InProjWeight", "InProjBias", "OutProjWeight", "OutProjBias", "AdditiveV",
            "ParameterList", "ParameterBlock", "Parameters", "GetParameter", "ResetParameters", "ParametersChanged",
            "GradientBlock", "ZeroGradients", "Load", "Save", "LayerInfo", "Info",
            // The runtime core's public members (AttnGen.AttentionLayer<TKernels>), which the layer inherits.
            "Forward", "ForwardTrain", "Backward", "Isa", "MaxDegreeOfParallelism", "Dispose", "ParameterSlice",
            // Decoding: the cached layer's core (AttnGen.CausalDecoderLayer<TKernels>) and its kernel-table members.
            "CreateCache", "ChunkTokens", "QkvWidth", "ProjectRows", "OutputRows", "Rotary",
            // The kernel table and what it declares.
            "Kernels", "s_parameters", "Layout", "HasKernels", "PackWeights", "ForwardSequence", "BackwardSequence", "PackedLength", "Rotary",
            // File-level aliases of the kernel files.
            "AgVec", "AgVecF",
        };

        /// <summary>
        /// Aliases that the kernel files declare at file level: a type of this name around the layer would hide
        /// them, so containing types may not have these names either.
        /// </summary>
        public static readonly string[] KernelFileAliases = { "AgVec", "AgVecF" };

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
            var declaration = (TypeDeclarationSyntax)context.TargetNode;
            LocationInfo? typeLocation = LocationInfo.From(declaration.Identifier.GetLocation());
            AttributeData attribute = context.Attributes[0];
            var attributeSyntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            LocationInfo? attributeLocation = LocationInfo.From(attributeSyntax) ?? typeLocation;
            string @namespace = type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString(NamespaceFormat);

            // The type itself.
            foreach (SyntaxReference reference in type.DeclaringSyntaxReferences)
            {
                if (reference.GetSyntax(cancellationToken) is TypeDeclarationSyntax decl && !decl.Modifiers.Any(SyntaxKind.PartialKeyword))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.NotPartial, LocationInfo.From(decl.Identifier.GetLocation()), type.Name));
                }
            }
            if (type.IsRecord)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.Record, typeLocation, type.Name));
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
            if (Array.IndexOf(ReservedNames, type.Name) >= 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ReservedName, typeLocation, type.Name,
                    "is the name of a member the generator adds to the layer, and a member cannot have its type's name"));
            }
            else if (type.Name.Contains("__"))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ReservedName, typeLocation, type.Name,
                    "contains '__', which the generated kernels' names use (and C# reserves)"));
            }
            EquatableArray<ContainingType> containers = ReadContainingTypes(type, diagnostics, cancellationToken);
            string fullName = string.Join(".", new[] { @namespace }.Concat(containers.Select(c => c.Name)).Concat(new[] { type.Name }).Where(n => n.Length > 0));
            if (context.SemanticModel.Compilation.Options is CSharpCompilationOptions { AllowUnsafe: false })
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.UnsafeNotAllowed, attributeLocation, fullName));
            }

            // The attribute's arguments. When the compiler reports an error in the attribute (an argument that
            // is not a constant, or of the wrong type, or a missing one) its message is the accurate one: any
            // check here would judge a guessed value.
            if (attribute.ConstructorArguments.Length != 3
                || attribute.ConstructorArguments.Any(a => a.Kind == TypedConstantKind.Error || a.Value is not int)
                || attribute.NamedArguments.Any(a => a.Value.Kind == TypedConstantKind.Error)
                || (attributeSyntax is not null && context.SemanticModel.GetDiagnostics(attributeSyntax.Span, cancellationToken).Any(d => d.Severity == DiagnosticSeverity.Error)))
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
            bool rotary = GetBool(named, "Rotary", false);
            bool rotaryBaseSet = named.ContainsKey("RotaryBase");
            double rotaryBase = rotaryBaseSet && named["RotaryBase"].Value is double rb ? rb : 10000.0;
            bool kvCache = GetBool(named, "KvCache", false);

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
                CheckDecoding(diagnostics, arguments, headDim, seqLen, kvSeqLen, scoring, causal, projections,
                    rotary, rotaryBaseSet, rotaryBase, kvCache);
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
                    @namespace,
                    containers,
                    type.Name, heads, headDim, seqLen, modelDim, kvHeads, kvSeqLen, scoring, causal,
                    projections && bias, projections, scale)
                {
                    Rotary = rotary,
                    RotaryBase = rotaryBase,
                    KvCache = kvCache,
                };
            return new ParseResult(spec, new EquatableArray<DiagnosticInfo>(diagnostics));
        }

        /// <summary>
        /// The types around a nested layer, outermost first, as their partial declarations must be repeated.
        /// A container that is not partial cannot take the generated members (ATTN0002); one named like a
        /// kernel file's alias would hide it (ATTN0015).
        /// </summary>
        private static EquatableArray<ContainingType> ReadContainingTypes(INamedTypeSymbol type, List<DiagnosticInfo> diagnostics, CancellationToken cancellationToken)
        {
            var containers = new List<ContainingType>();
            var path = new List<string>();
            for (INamedTypeSymbol? container = type.ContainingType; container is not null; container = container.ContainingType)
            {
                path.Insert(0, container.Name);
            }
            int depth = 0;
            for (INamedTypeSymbol? container = type.ContainingType; container is not null; container = container.ContainingType)
            {
                depth++;
                string containerPath = string.Join(".", path.Take(path.Count - depth + 1));
                foreach (SyntaxReference reference in container.DeclaringSyntaxReferences)
                {
                    if (reference.GetSyntax(cancellationToken) is TypeDeclarationSyntax decl && !decl.Modifiers.Any(SyntaxKind.PartialKeyword))
                    {
                        diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ContainerNotPartial, LocationInfo.From(decl.Identifier.GetLocation()),
                            type.Name, containerPath, container.Name));
                    }
                }
                if (Array.IndexOf(KernelFileAliases, container.Name) >= 0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.ReservedName, LocationInfo.From(container.Locations.FirstOrDefault()), container.Name,
                        "is an alias the generated kernel files use, and a type of that name around the layer would hide it"));
                }
                string keyword = container.TypeKind switch
                {
                    TypeKind.Interface => "interface",
                    TypeKind.Struct => container.IsRecord ? "record struct" : "struct",
                    _ => container.IsRecord ? "record" : "class",
                };
                string modifiers = (container.IsReadOnly && container.TypeKind == TypeKind.Struct ? "readonly " : "") + (container.IsRefLikeType ? "ref " : "");
                var typeParameters = container.TypeParameters.Select(p => p.Variance switch
                {
                    VarianceKind.In => "in " + p.Name,
                    VarianceKind.Out => "out " + p.Name,
                    _ => p.Name,
                });
                containers.Insert(0, new ContainingType(modifiers, keyword, container.Name, new EquatableArray<string>(typeParameters)));
            }
            return new EquatableArray<ContainingType>(containers);
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

        /// <summary>
        /// Rotary positions (ATTN0022) and the key/value cache (ATTN0023) work on self-attention with projections and
        /// dot-product scores: the rotation is applied to the projected q and k, and the cache keeps projected rows.
        /// </summary>
        private static void CheckDecoding(List<DiagnosticInfo> diagnostics, ArgumentLocator arguments, int headDim, int seqLen,
            int kvSeqLen, ScoringKind scoring, bool causal, bool projections, bool rotary, bool rotaryBaseSet, double rotaryBase, bool kvCache)
        {
            string? SelfAttentionProblem()
                => !projections ? "it needs the q/k/v projections (Projections = true)"
                    : kvSeqLen != seqLen ? $"it needs self-attention, and KvSeqLen = {kvSeqLen} differs from seqLen = {seqLen}"
                    : scoring == ScoringKind.Additive ? "it needs dot-product scores, and Additive scoring adds q and k instead"
                    : null;
            if (rotary)
            {
                string? problem = headDim % 2 != 0
                    ? $"it rotates pairs of a head's elements, and headDim = {headDim} is odd"
                    : SelfAttentionProblem();
                if (problem is not null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.RotaryNotApplicable, arguments.Find("Rotary", false), problem));
                }
            }
            if (rotaryBaseSet && (!rotary || !(rotaryBase > 1) || double.IsInfinity(rotaryBase)))
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.RotaryNotApplicable, arguments.Find("RotaryBase", false),
                    !rotary ? "RotaryBase is set but Rotary is not"
                        : $"RotaryBase = {rotaryBase.ToString("R", CultureInfo.InvariantCulture)} must be a finite number above 1"));
            }
            if (kvCache)
            {
                string? problem = !causal ? "decoding appends tokens that see only earlier ones, so it needs Causal = true" : SelfAttentionProblem();
                if (problem is not null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.KvCacheNotApplicable, arguments.Find("KvCache", false), problem));
                }
            }
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
