using System.Globalization;
using AttnGen;
using AttnGen.SaveWorker;

// Usage: AttnGen.SaveWorker <path> <first generation>
// Saves generation g, g + 1, g + 2, ... to <path> until killed, printing "saved <g>" after each save.
if (args.Length != 2 || !long.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out long generation))
{
    Console.Error.WriteLine("usage: AttnGen.SaveWorker <path> <first generation>");
    return 2;
}

var block = new float[WorkerCheckpoint.BlockLength];
for (; ; generation++)
{
    WorkerCheckpoint.Fill(block, generation);
    var metadata = new Dictionary<string, string> { [WorkerCheckpoint.GenerationKey] = generation.ToString(CultureInfo.InvariantCulture) };
    LayerCheckpoint.Save(args[0], WorkerCheckpoint.Prefix, block, WorkerCheckpoint.Parameters, metadata);
    Console.WriteLine($"saved {generation}");
}
