using System.Globalization;
using AttnGen;
using AttnGen.SaveWorker;

// Usage:
//   AttnGen.SaveWorker <path> <first generation>
//     Saves generation g, g + 1, g + 2, ... to <path> until killed, printing "saved <g>" after each save.
//   AttnGen.SaveWorker truncate-while-reading <path> <length>
//     Opens the safetensors file <path>, truncates it to <length> bytes through another handle, then reads every
//     tensor. Prints "typed <Error>: <message>" and exits 0 on a SafeTensorsFormatException, prints the exception
//     and exits 1 on any other, and exits 3 if every read succeeded. A crash (a fatal signal) is what it guards
//     against: it takes down only this process.
if (args.Length == 3 && args[0] == "truncate-while-reading")
{
    return TruncateWhileReading(args[1], long.Parse(args[2], NumberStyles.None, CultureInfo.InvariantCulture));
}
if (args.Length != 2 || !long.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out long generation))
{
    Console.Error.WriteLine("usage: AttnGen.SaveWorker <path> <first generation> | truncate-while-reading <path> <length>");
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

static int TruncateWhileReading(string path, long length)
{
    try
    {
        using SafeTensorsFile file = SafeTensorsFile.Open(path);
        using (var other = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
        {
            other.SetLength(length);
        }
        foreach (SafeTensorInfo tensor in file.Tensors)
        {
            file.ReadFloats(tensor.Name);
        }
        Console.WriteLine("read every tensor");
        return 3;
    }
    catch (SafeTensorsFormatException e)
    {
        Console.WriteLine($"typed {e.Error}: {e.Message}");
        return 0;
    }
    catch (Exception e)
    {
        Console.WriteLine($"untyped {e.GetType().FullName}: {e.Message}");
        return 1;
    }
}
