using System.CommandLine;
using System.Diagnostics;
using AttnGen;
using QuickStart;

// Two layers declared in Layers.cs; the generator wrote their kernels at compile time.
var batchOption = new Option<int>("--batch")
{
    Description = "Sequences per Forward call.",
    HelpName = "N",
    DefaultValueFactory = _ => 4,
    Validators =
    {
        result =>
        {
            int n = result.GetValueOrDefault<int>();
            if (n is < 1 or > 64)
            {
                result.AddError($"--batch must be 1 to 64; got {n}.");
            }
        },
    },
};
var seedOption = new Option<ulong>("--seed") { Description = "Seed for the parameters and the inputs.", HelpName = "N", DefaultValueFactory = _ => 42 };
var command = new RootCommand("A short tour of two generated attention layers: shapes, parameters, checksums and the time per call.")
{
    batchOption, seedOption,
};
ParseResult parsed = command.Parse(args);
if (parsed.Action is not null)
{
    return parsed.Invoke(); // --help, or the errors with the usage
}
int batch = parsed.GetValue(batchOption);
ulong seed = parsed.GetValue(seedOption);

using var self = new DecoderSelfAttention();
self.ResetParameters(seed);
var x = new float[batch * DecoderSelfAttention.SeqLen * DecoderSelfAttention.ModelDim];
new SeededRandom(seed + 1).FillUniform(x, -1f, 1f);
var y = new float[x.Length];

Console.WriteLine($"DecoderSelfAttention: heads {DecoderSelfAttention.Heads} x headDim {DecoderSelfAttention.HeadDim}, " +
                  $"seqLen {DecoderSelfAttention.SeqLen}, causal, {DecoderSelfAttention.ParameterCount:N0} parameter floats");
foreach (LayerParameter p in DecoderSelfAttention.ParameterList)
{
    Console.WriteLine($"  {p.Name,-16} {p.ShapeText}");
}
self.Forward(x, y, batch);
Console.WriteLine($"  input [{batch}, {DecoderSelfAttention.SeqLen}, {DecoderSelfAttention.ModelDim}] -> output [{batch}, {DecoderSelfAttention.SeqLen}, {DecoderSelfAttention.ModelDim}], checksum {Checksum(y):F6}");
Console.WriteLine($"  {Time(() => self.Forward(x, y, batch)):F3} ms per call (batch {batch})");

using var cross = new EncoderCrossAttention();
cross.ResetParameters(seed);
var queries = new float[batch * EncoderCrossAttention.SeqLen * EncoderCrossAttention.ModelDim];
var memory = new float[batch * EncoderCrossAttention.KvSeqLen * EncoderCrossAttention.ModelDim];
var rng = new SeededRandom(seed + 2);
rng.FillUniform(queries, -1f, 1f);
rng.FillUniform(memory, -1f, 1f);
var output = new float[queries.Length];
// Padded encoder outputs: keys past each length are masked (96, 80, 64, 17, then again).
int[] validLengths = Enumerable.Range(0, batch).Select(i => new[] { 96, 80, 64, 17 }[i % 4]).ToArray();

Console.WriteLine();
Console.WriteLine($"EncoderCrossAttention: {EncoderCrossAttention.Heads} query heads sharing {EncoderCrossAttention.KvHeads} key/value heads, " +
                  $"{EncoderCrossAttention.SeqLen} queries over {EncoderCrossAttention.KvSeqLen} keys");
cross.Forward(queries, memory, memory, output, batch, validLengths);
Console.WriteLine($"  query [{batch}, {EncoderCrossAttention.SeqLen}, {EncoderCrossAttention.ModelDim}], key/value [{batch}, {EncoderCrossAttention.KvSeqLen}, {EncoderCrossAttention.ModelDim}], " +
                  $"valid lengths [{string.Join(", ", validLengths)}] -> output [{batch}, {EncoderCrossAttention.SeqLen}, {EncoderCrossAttention.ModelDim}], checksum {Checksum(output):F6}");
Console.WriteLine($"  {Time(() => cross.Forward(queries, memory, memory, output, batch, validLengths)):F3} ms per call (batch {batch})");

static double Checksum(ReadOnlySpan<float> values)
{
    double sum = 0;
    for (int i = 0; i < values.Length; i++)
    {
        sum += values[i] * (1 + i % 7);
    }
    return sum;
}

return 0;

// The median of 21 calls in a warmed, optimised steady state: at least 100 calls and one second first, so
// tiered compilation has promoted the kernels to fully optimised code before anything is timed.
static double Time(Action call)
{
    long warmStart = Stopwatch.GetTimestamp();
    for (int calls = 0; calls < 100 || Stopwatch.GetElapsedTime(warmStart).TotalSeconds < 1; calls++)
    {
        call();
    }
    var samples = new double[21];
    for (int s = 0; s < samples.Length; s++)
    {
        long start = Stopwatch.GetTimestamp();
        call();
        samples[s] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }
    Array.Sort(samples);
    return samples[samples.Length / 2];
}
