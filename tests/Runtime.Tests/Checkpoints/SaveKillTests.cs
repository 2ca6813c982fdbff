using System.Diagnostics;
using System.Globalization;
using AttnGen.Runtime.Tests.Support;
using AttnGen.SaveWorker;

namespace AttnGen.Runtime.Tests.Checkpoints;

/// <summary>
/// A child process saves a 16 MB checkpoint to one path in a loop and is killed at random moments: after
/// every kill the file at that path must load whole, with every value of one generation.
/// </summary>
public sealed class SaveKillTests : IDisposable
{
    private const int Rounds = 8;
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(30);

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task KilledSavesLeaveTheOldOrTheNewCheckpoint()
    {
        CancellationToken cancel = TestContext.Current.CancellationToken;
        string path = _dir.File("checkpoint.safetensors");
        var random = new Random(20240607);
        long lastGeneration = 0;
        int killsDuringSave = 0;

        for (int round = 0; round < Rounds; round++)
        {
            long first = (round + 1) * 1_000_000L;
            using (Process process = WorkerProcess.Start(path, first.ToString(CultureInfo.InvariantCulture)))
            {
                try
                {
                    // Once a save of this round has completed, kill at a random moment of the ones that follow.
                    string? line = await process.StandardOutput.ReadLineAsync(cancel).AsTask().WaitAsync(s_startTimeout, cancel);
                    Assert.Equal($"saved {first}", line);
                    await Task.Delay(random.Next(0, 300), cancel);
                }
                finally
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync(cancel);
                }
            }

            // A kill in the middle of a save leaves its temporary file behind; the target is untouched by it.
            string[] leftovers = Directory.GetFiles(_dir.Path, "checkpoint.safetensors.*.tmp");
            if (leftovers.Length > 0)
            {
                killsDuringSave++;
            }
            foreach (string leftover in leftovers)
            {
                File.Delete(leftover);
            }

            long generation = LoadWhole(path);
            Assert.InRange(generation, Math.Max(first, lastGeneration), first + 100_000);
            lastGeneration = generation;
        }

        Assert.True(killsDuringSave > 0, "No kill landed in the middle of a save.");
    }

    /// <summary>Loads the checkpoint, checks every value against its generation, and returns the generation.</summary>
    private static long LoadWhole(string path)
    {
        long generation;
        using (SafeTensorsFile file = SafeTensorsFile.Open(path))
        {
            generation = long.Parse(file.Metadata[WorkerCheckpoint.GenerationKey], CultureInfo.InvariantCulture);
        }
        var block = new float[WorkerCheckpoint.BlockLength];
        LayerCheckpoint.Load(path, WorkerCheckpoint.Prefix, block, WorkerCheckpoint.Parameters,
            WorkerCheckpoint.ModelDim, WorkerCheckpoint.ModelDim, "WorkerLayer");
        for (int i = 0; i < block.Length; i++)
        {
            if (block[i] != WorkerCheckpoint.Value(generation, i))
            {
                Assert.Fail($"Value {i} of generation {generation} is {block[i]}, expected {WorkerCheckpoint.Value(generation, i)}.");
            }
        }
        return generation;
    }
}
