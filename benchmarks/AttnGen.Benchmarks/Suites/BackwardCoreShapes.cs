using AttnGen.Benchmarks.Layers;

namespace AttnGen.Benchmarks.Suites;

// One class per attention-core shape whose backward is measured, (heads x seqLen x headDim).

/// <summary>8 heads x 128 tokens x 64, plain and causal.</summary>
public class BackwardCore_H8_S128_D64() : BackwardCoreBenchmark(8, 128, 64, [false, true])
{
    protected override IAttentionLayer NewLayer(bool causal) => causal ? new Core_8x128x64_Causal() : new Core_8x128x64();
}

/// <summary>8 heads x 256 tokens x 64, causal.</summary>
public class BackwardCore_H8_S256_D64() : BackwardCoreBenchmark(8, 256, 64, [true])
{
    protected override IAttentionLayer NewLayer(bool causal) => causal ? new Core_8x256x64_Causal() : throw new NotSupportedException("only the causal layer is declared at S = 256");
}

/// <summary>8 heads x 256 tokens x 80 (a head of five AVX-512 vectors), plain and causal.</summary>
public class BackwardCore_H8_S256_D80() : BackwardCoreBenchmark(8, 256, 80, [false, true])
{
    protected override IAttentionLayer NewLayer(bool causal) => causal ? new Core_8x256x80_Causal() : new Core_8x256x80();
}
