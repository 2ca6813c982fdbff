using System;
using System.Collections.Generic;
using System.Linq;

namespace AttnGen.Generator.Model
{
    /// <summary>
    /// Which vector paths to generate, read from the <c>AttnGenInstructionSets</c> MSBuild property (for example
    /// <c>Avx512;Avx2</c>). Absent or empty means every path; the scalar path is always generated. Value-equal, so
    /// an unchanged property never re-runs emission.
    /// </summary>
    internal sealed record InstructionSetSelection(EquatableArray<string> Vector, EquatableArray<string> Unknown, string Raw)
    {
        /// <summary>The MSBuild property, as the compiler sees it through CompilerVisibleProperty.</summary>
        public const string PropertyKey = "build_property.AttnGenInstructionSets";

        /// <summary>Every vector path: what an absent property selects.</summary>
        public static InstructionSetSelection All { get; } = new(
            new EquatableArray<string>(IsaProfile.Vector.Select(p => p.EnumName).ToArray()), EquatableArray<string>.Empty, "");

        /// <summary>Reads the property: names separated by ';', ',' or spaces, in any case; unknown names are kept for a diagnostic.</summary>
        public static InstructionSetSelection Parse(string? value)
        {
            if (value is null || value.Trim().Length == 0)
            {
                return All;
            }
            var chosen = new HashSet<string>(StringComparer.Ordinal);
            var unknown = new List<string>();
            foreach (string part in value.Split(new[] { ';', ',', ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries))
            {
                IsaProfile? profile = IsaProfile.Vector.FirstOrDefault(p => string.Equals(p.EnumName, part, StringComparison.OrdinalIgnoreCase));
                if (profile is not null)
                {
                    chosen.Add(profile.EnumName);
                }
                else if (!string.Equals(part, "Scalar", StringComparison.OrdinalIgnoreCase))
                {
                    unknown.Add(part);
                }
            }
            // Widest first, the order the dispatch tries them.
            string[] vector = IsaProfile.Vector.Where(p => chosen.Contains(p.EnumName)).Select(p => p.EnumName).ToArray();
            return new InstructionSetSelection(new EquatableArray<string>(vector), new EquatableArray<string>(unknown.ToArray()), value.Trim());
        }

        /// <summary>The selected vector profiles, widest first.</summary>
        public IEnumerable<IsaProfile> Profiles => IsaProfile.Vector.Where(p => Vector.Contains(p.EnumName));
    }
}
