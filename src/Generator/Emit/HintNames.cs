using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using AttnGen.Generator.Model;

namespace AttnGen.Generator.Emit
{
    /// <summary>
    /// Hint names of generated files. The compiler compares them ignoring case, so two layers whose full
    /// names differ only by case (<c>Demo.Layer</c>, <c>Demo.layer</c>) cannot both use their name: each of
    /// them gets "-" and its rank among those names in ordinal order (<c>Demo.Layer-1</c>, <c>Demo.layer-2</c>).
    /// No identifier contains '-', so a suffixed stem never meets a plain one; every other layer keeps its name.
    /// </summary>
    internal static class HintNames
    {
        /// <summary>The names that equal another, different name ignoring case, in ordinal order.</summary>
        public static EquatableArray<string> CaseCollisions(ImmutableArray<string> names)
        {
            string[] distinct = names.Distinct(StringComparer.Ordinal).ToArray();
            return new EquatableArray<string>(distinct
                .GroupBy(n => n, StringComparer.OrdinalIgnoreCase)
                .Where(g => g.Count() > 1)
                .SelectMany(g => g)
                .OrderBy(n => n, StringComparer.Ordinal));
        }

        /// <summary>The stem for the files of <paramref name="fullName"/>, given <see cref="CaseCollisions"/>.</summary>
        public static string Stem(string fullName, EquatableArray<string> collisions)
        {
            int rank = 0;
            foreach (string name in collisions)
            {
                if (string.Equals(name, fullName, StringComparison.OrdinalIgnoreCase))
                {
                    rank++;
                    if (string.Equals(name, fullName, StringComparison.Ordinal))
                    {
                        return fullName + "-" + rank.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    }
                }
            }
            return fullName;
        }
    }
}
