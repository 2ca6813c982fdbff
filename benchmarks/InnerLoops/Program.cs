using AttnGen;

// Runs the forward pass of one layer on the 128-bit path, so that DOTNET_JitDisasm can print its register-tile
// kernels: the projection GEMM (gemm_4x16_k512), the score tile (gemm_4x16_k64) and P·V (gemm_scaled_4x16_lda32).
using var layer = new InnerLoops.Layer { Isa = KernelIsa.Vector128 };
layer.ResetParameters(1);
var x = new float[InnerLoops.Layer.SeqLen * InnerLoops.Layer.ModelDim];
new SeededRandom(2).FillUniform(x, -1f, 1f);
var y = new float[x.Length];
layer.Forward(x, y, 1);
double sum = 0;
foreach (float v in y)
{
    sum += v;
}
Console.WriteLine($"{layer.Isa} checksum {sum:F6}");

namespace InnerLoops
{
    /// <summary>The suite's 8 x 128 x 64 shape with projections.</summary>
    [AttentionLayer(heads: 8, headDim: 64, seqLen: 128)]
    public partial class Layer;
}
