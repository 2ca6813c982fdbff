using System.Diagnostics;
using System.Globalization;
using AttnGen.Runtime.Tests.Support;
using AttnGen.SaveWorker;

namespace AttnGen.Runtime.Tests.Checkpoints;

/// <summary>
/// Another process truncates a checkpoint after it was opened and before its tensors are read. Reading must end
/// in a typed <see cref="SafeTensorsFormatException"/> (<see cref="SafeTensorsError.FileTruncated"/>), not in a
/// crash of the process (a reader that memory-maps the file dies of SIGBUS) nor in a silent read of zeros. The
/// reads run in a child process (tests/SaveWorker), so a crash fails this test instead of the test run.
/// </summary>
public sealed class TruncatedWhileReadingTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Cuts() => new("inside the header", "half way", "one byte short");

    [Theory]
    [MemberData(nameof(Cuts))]
    public async Task TruncatingAnOpenFile_IsATypedErrorNotACrash(string cut)
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        string path = _dir.File("checkpoint.safetensors");
        var block = new float[WorkerCheckpoint.BlockLength];
        WorkerCheckpoint.Fill(block, 1);
        LayerCheckpoint.Save(path, WorkerCheckpoint.Prefix, block, WorkerCheckpoint.Parameters);
        long length = new FileInfo(path).Length;
        long truncatedTo = cut switch
        {
            "inside the header" => 20,
            "half way" => length / 2,
            _ => length - 1,
        };

        using Process process = WorkerProcess.Start("truncate-while-reading", path, truncatedTo.ToString(CultureInfo.InvariantCulture));
        string output = await process.StandardOutput.ReadToEndAsync(cancel).WaitAsync(s_timeout, cancel);
        await process.WaitForExitAsync(cancel).WaitAsync(s_timeout, cancel);

        Assert.True(process.ExitCode == 0, $"The reader exited with code {process.ExitCode} (a crash, or no typed error); it printed: {output}");
        Assert.StartsWith($"typed {SafeTensorsError.FileTruncated}: Invalid safetensors file '{path}', tensor '{WorkerCheckpoint.Prefix}", output, StringComparison.Ordinal);
        Assert.Contains($"the file now ends at byte {truncatedTo}, before the end of this tensor", output, StringComparison.Ordinal);
        Assert.Contains($"it had {length} bytes when it was opened", output, StringComparison.Ordinal);
        Assert.Equal(truncatedTo, new FileInfo(path).Length);
    }
}
