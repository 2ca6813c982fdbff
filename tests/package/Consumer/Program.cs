using AttnGen;
using PackageConsumer;

// Runs one layer through forward, training forward + backward, save and load, and writes every result
// to one binary file so that two builds (package and source, JIT and NativeAOT) can be compared.
// Usage: PackageConsumer <results-file> <work-folder>
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: PackageConsumer <results-file> <work-folder>");
    return 2;
}
string resultsPath = args[0];
string workFolder = args[1];
Directory.CreateDirectory(workFolder);

const int batch = 3;
int[] validLengths = [24, 17, 5];
int width = ConsumerAttention.ModelDim;
int count = batch * ConsumerAttention.SeqLen * width;

var input = new float[count];
var outputGrad = new float[count];
for (int i = 0; i < count; i++)
{
    input[i] = MathF.Sin(i * 0.37f) * 0.5f;
    outputGrad[i] = MathF.Cos(i * 0.11f) * 0.25f;
}

using var layer = new ConsumerAttention();
layer.ResetParameters(seed: 7);
Console.WriteLine($"isa: {layer.Isa}");

var output = new float[count];
layer.Forward(input, output, batch, validLengths);

var trainOutput = new float[count];
var inputGrad = new float[count];
layer.ZeroGradients();
layer.ForwardTrain(input, trainOutput, batch, validLengths);
layer.Backward(outputGrad, inputGrad, batch, validLengths);
float[] parameterGrad = layer.GradientBlock.ToArray();

string checkpoint = Path.Combine(workFolder, "consumer.safetensors");
layer.Save(checkpoint);
using var loaded = new ConsumerAttention();
loaded.Load(checkpoint);
var loadedOutput = new float[count];
loaded.Forward(input, loadedOutput, batch, validLengths);

bool sameParameters = layer.ParameterBlock.SequenceEqual(loaded.ParameterBlock);
bool sameOutput = output.AsSpan().SequenceEqual(loadedOutput);
bool trainMatchesForward = output.AsSpan().SequenceEqual(trainOutput);

Console.WriteLine($"forward: {Checksum(output):R}");
Console.WriteLine($"backward: input grad {Checksum(inputGrad):R}, parameter grad {Checksum(parameterGrad):R}");
Console.WriteLine($"save/load: parameters {(sameParameters ? "identical" : "DIFFER")}, forward {(sameOutput ? "identical" : "DIFFERS")}");
Console.WriteLine($"train forward: {(trainMatchesForward ? "identical" : "differs")} to forward");

using (var file = new BinaryWriter(File.Create(resultsPath)))
{
    foreach (float[] block in new[] { output, trainOutput, inputGrad, parameterGrad, layer.ParameterBlock.ToArray(), loadedOutput })
    {
        file.Write(block.Length);
        foreach (float v in block)
        {
            file.Write(v);
        }
    }
}
return sameParameters && sameOutput ? 0 : 1;

static double Checksum(ReadOnlySpan<float> values)
{
    double sum = 0;
    for (int i = 0; i < values.Length; i++)
    {
        sum += values[i] * (1 + i % 7);
    }
    return sum;
}
