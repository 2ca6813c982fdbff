using System.Runtime.CompilerServices;
using System.Text;

namespace AttnGen.Generator.Tests;

/// <summary>
/// Compares generated files with the reviewed copies in <c>Snapshots/</c>, one file per generated file:
/// <c>Snapshots/{TestName}.{HintName without .cs}.verified.cs</c>.
/// </summary>
/// <remarks>
/// On a difference the test writes <c>.received.cs</c> beside the verified file (git ignores it) and fails
/// with the first differing line. After an intended change to the generated code, accept every snapshot
/// at once by running the tests with <c>ATTNGEN_ACCEPT_SNAPSHOTS=1</c>: verified files are rewritten, files the
/// generator no longer produces are deleted, and <c>git diff</c> shows what changed for review.
/// </remarks>
public static class Snapshot
{
    public const string AcceptVariable = "ATTNGEN_ACCEPT_SNAPSHOTS";

    private const string VerifiedSuffix = ".verified.cs";
    private const string ReceivedSuffix = ".received.cs";

    private static bool Accepting => Environment.GetEnvironmentVariable(AcceptVariable) == "1";

    /// <summary>
    /// Verifies every file of <paramref name="files"/> against its snapshot, and that no snapshot of
    /// <paramref name="testName"/> is left over from a file the generator no longer produces.
    /// </summary>
    /// <param name="testName">The snapshot name prefix; by default the calling test method.</param>
    /// <param name="callerFile">The calling source file; snapshots live in <c>Snapshots/</c> beside it.</param>
    public static void Verify(
        IReadOnlyList<GeneratedFile> files,
        [CallerMemberName] string testName = "",
        [CallerFilePath] string callerFile = "")
    {
        string directory = Path.Combine(Path.GetDirectoryName(callerFile)!, "Snapshots");
        if (!Directory.Exists(directory))
        {
            Assert.Fail($"Snapshot folder {directory} does not exist. The tests find it from their source file path, so run them from a build of this checkout without ContinuousIntegrationBuild (which maps source paths).");
        }

        var failures = new List<string>();
        var produced = new HashSet<string>(StringComparer.Ordinal);
        foreach (GeneratedFile file in files)
        {
            string stem = Path.Combine(directory, testName + "." + TrimCs(file.HintName));
            produced.Add(stem + VerifiedSuffix);
            string? failure = Check(stem, Normalize(file.Text));
            if (failure is not null)
            {
                failures.Add(failure);
            }
        }

        foreach (string stale in Directory.GetFiles(directory, testName + ".*" + VerifiedSuffix).Where(p => !produced.Contains(p)))
        {
            if (Accepting)
            {
                File.Delete(stale);
            }
            else
            {
                failures.Add($"{Path.GetFileName(stale)}: the generator no longer produces this file; delete it (or accept with {AcceptVariable}=1).");
            }
        }

        if (failures.Count > 0)
        {
            Assert.Fail(string.Join("\n\n", failures)
                + $"\n\nIf the new output is intended, run the tests with {AcceptVariable}=1 and review the change with git diff.");
        }
    }

    /// <summary>Compares one file; returns a failure message, or null when it matches or was accepted.</summary>
    private static string? Check(string stem, string actual)
    {
        string verifiedPath = stem + VerifiedSuffix;
        string receivedPath = stem + ReceivedSuffix;
        string? expected = File.Exists(verifiedPath) ? Normalize(File.ReadAllText(verifiedPath, Encoding.UTF8)) : null;

        if (expected == actual || Accepting)
        {
            if (expected != actual)
            {
                File.WriteAllText(verifiedPath, actual, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            }
            File.Delete(receivedPath);
            return null;
        }

        File.WriteAllText(receivedPath, actual, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        string name = Path.GetFileName(verifiedPath);
        return expected is null
            ? $"{name}: no verified snapshot yet; the output is in {receivedPath}."
            : $"{name}: {FirstDifference(expected, actual)}\n  received output: {receivedPath}";
    }

    /// <summary>The first line where the two texts differ, both versions shown.</summary>
    public static string FirstDifference(string expected, string actual)
    {
        string[] e = expected.Split('\n');
        string[] a = actual.Split('\n');
        for (int i = 0; i < Math.Max(e.Length, a.Length); i++)
        {
            string? el = i < e.Length ? e[i] : null;
            string? al = i < a.Length ? a[i] : null;
            if (el != al)
            {
                return $"first difference at line {i + 1}:\n  verified: {el ?? "(end of file)"}\n  received: {al ?? "(end of file)"}";
            }
        }
        return "no difference";
    }

    /// <summary>'\n' line ends, so a checkout with CRLF endings compares equal.</summary>
    public static string Normalize(string text) => text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n');

    private static string TrimCs(string hintName)
        => hintName.EndsWith(".cs", StringComparison.Ordinal) ? hintName[..^3] : hintName;
}
