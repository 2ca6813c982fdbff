using System.Diagnostics;
using System.Runtime.InteropServices;

namespace AttnGen.Runtime.Tests.Support;

/// <summary>Starts tests/SaveWorker (built next to the tests) as a child process on the runtime that runs the tests.</summary>
public static class WorkerProcess
{
    /// <summary>The worker's assembly, next to the test assembly.</summary>
    public static string Assembly
    {
        get
        {
            string worker = Path.Combine(AppContext.BaseDirectory, "AttnGen.SaveWorker.dll");
            Assert.True(File.Exists(worker), $"{worker} was not built next to the tests.");
            return worker;
        }
    }

    /// <summary>Starts the worker with <paramref name="arguments"/>, its standard output redirected.</summary>
    public static Process Start(params string[] arguments)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Assembly);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        return Process.Start(start) ?? throw new InvalidOperationException("The worker did not start.");
    }

    /// <summary>The dotnet host that runs these tests, so the worker runs on the same runtime.</summary>
    private static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
        {
            return host;
        }
        // The shared runtime lives in <root>/shared/Microsoft.NETCore.App/<version>/, the host in <root>.
        string root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        string candidate = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(candidate) ? candidate : "dotnet";
    }
}
