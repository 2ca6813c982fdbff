using System.Diagnostics;

namespace AttnGen.Runtime.Tests.Support;

/// <summary>
/// A small tmpfs mounted on a fresh folder, for tests that need a full disk; unmounted and removed on dispose.
/// Mounting needs root (or CAP_SYS_ADMIN) on Linux: <see cref="TryMount"/> says why when it cannot.
/// </summary>
public sealed class TmpfsMount : IDisposable
{
    private readonly TempDirectory _parent;

    private TmpfsMount(TempDirectory parent, string path)
    {
        _parent = parent;
        Path = path;
    }

    /// <summary>The mounted folder.</summary>
    public string Path { get; }

    /// <summary>Mounts a tmpfs of <paramref name="bytes"/> bytes, or returns null with the reason it could not.</summary>
    public static TmpfsMount? TryMount(long bytes, out string reason)
    {
        if (!OperatingSystem.IsLinux())
        {
            reason = "tmpfs exists only on Linux.";
            return null;
        }
        var parent = new TempDirectory();
        string path = System.IO.Path.Combine(parent.Path, "tmpfs");
        Directory.CreateDirectory(path);
        (int code, string output) = Run("mount", "-t", "tmpfs", "-o", $"size={bytes}", "tmpfs", path);
        if (code != 0)
        {
            parent.Dispose();
            reason = $"'mount -t tmpfs' failed with exit code {code} (it needs root): {output.Trim()}";
            return null;
        }
        reason = "";
        return new TmpfsMount(parent, path);
    }

    public void Dispose()
    {
        Run("umount", Path);
        _parent.Dispose();
    }

    private static (int Code, string Output) Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        try
        {
            using Process process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, $"{program} could not be started: {e.Message}");
        }
    }
}
