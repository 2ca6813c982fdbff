using AttnGen.Benchmarks.Layers;

namespace AttnGen.Benchmarks.Suites;

// One class per full-layer shape, (heads x seqLen x headDim, ModelDim).

/// <summary>8 heads x 128 tokens x 64, ModelDim 512, batch 1 and 8.</summary>
public class Layer_H8_S128_D64_M512() : LayerBenchmark<Layer_8x128x64>(8, 128, 64, 512, [1, 8]);

/// <summary>2 heads x 16 tokens x 32, ModelDim 64.</summary>
public class Layer_H2_S16_D32_M64() : LayerBenchmark<Layer_2x16x32>(2, 16, 32, 64, [1]);

/// <summary>4 heads x 32 tokens x 16, ModelDim 64.</summary>
public class Layer_H4_S32_D16_M64() : LayerBenchmark<Layer_4x32x16>(4, 32, 16, 64, [1]);
