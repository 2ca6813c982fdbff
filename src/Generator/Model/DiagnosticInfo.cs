using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace AttnGen.Generator.Model
{
    /// <summary>A value-equal stand-in for <see cref="Location"/>: file path and spans only.</summary>
    internal sealed record LocationInfo(string FilePath, TextSpan TextSpan, LinePositionSpan LineSpan)
    {
        /// <summary>
        /// The location in <paramref name="compilation"/>'s tree of the same path when there is one, so that
        /// <c>#pragma warning</c> and per-file .editorconfig severities apply (the compiler checks those only
        /// for locations in a syntax tree); otherwise a location by path.
        /// </summary>
        public Location ToLocation(Compilation compilation)
        {
            foreach (SyntaxTree tree in compilation.SyntaxTrees)
            {
                if (tree.FilePath == FilePath && TextSpan.End <= tree.Length)
                {
                    return Location.Create(tree, TextSpan);
                }
            }
            return Location.Create(FilePath, TextSpan, LineSpan);
        }

        public static LocationInfo? From(Location? location)
        {
            if (location is null || location.SourceTree is null)
            {
                return null;
            }
            return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
        }

        public static LocationInfo? From(SyntaxNode? node) => From(node?.GetLocation());
    }

    /// <summary>A value-equal diagnostic, kept out of the cached spec and reported on its own.</summary>
    internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, LocationInfo? Location, EquatableArray<string> Arguments)
    {
        public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params object[] arguments)
            => new(descriptor, location, new EquatableArray<string>(arguments.Select(a => a?.ToString() ?? "").ToArray()));

        public Diagnostic ToDiagnostic(Compilation compilation)
            => Diagnostic.Create(Descriptor, Location?.ToLocation(compilation), Arguments.Select(a => (object)a).ToArray());
    }
}
