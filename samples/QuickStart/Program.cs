using System.Diagnostics;
using AttnGen;
using QuickStart;

// Two layers declared in Layers.cs; the generator wrote their kernels at compile time.
const int batch = 4;
const ulong seed = 42;

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
int[] validLengths = [96, 80, 64, 17]; // padded encoder outputs: keys past each length are masked

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

static double Time(Action call)
{
    for (int i = 0; i < 5; i++)
    {
        call(); // warm up (and let tiered JIT promote the kernels)
    }
    var samples = new double[15];
    for (int s = 0; s < samples.Length; s++)
    {
        long start = Stopwatch.GetTimestamp();
        call();
        samples[s] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }
    Array.Sort(samples);
    return samples[samples.Length / 2];
}
