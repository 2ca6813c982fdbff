namespace AttnGen.Generator.Model
{
    /// <summary>
    /// One type that encloses a nested layer, as its partial declaration must be written again in every
    /// generated file: modifiers that all parts must repeat, the keyword, the name and the type parameter
    /// list. Strings only, unescaped; <c>EmitCommon</c> escapes the names.
    /// </summary>
    /// <param name="Modifiers">"readonly ", "ref ", "readonly ref " or "" (static, sealed and abstract may be left to other parts).</param>
    /// <param name="Keyword">"class", "struct", "interface", "record" or "record struct".</param>
    /// <param name="Name">The type's name, without type parameters.</param>
    /// <param name="TypeParameters">Type parameters with their variance ("in T", "out U", "V"), in order.</param>
    internal sealed record ContainingType(string Modifiers, string Keyword, string Name, EquatableArray<string> TypeParameters);
}
