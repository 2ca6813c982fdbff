using AttnGen.Benchmarks.Layers;

namespace AttnGen.Benchmarks.Suites;

// One class per attention-core shape, (heads x seqLen x headDim).

/// <summary>8 heads x 128 tokens x 64.</summary>
public class Core_H8_S128_D64() : CoreBenchmark<Core_8x128x64, Core_8x128x64_Causal>(8, 128, 64);

/// <summary>12 heads x 256 tokens x 64.</summary>
public class Core_H12_S256_D64() : CoreBenchmark<Core_12x256x64, Core_12x256x64_Causal>(12, 256, 64);

/// <summary>8 heads x 64 tokens x 32.</summary>
public class Core_H8_S64_D32() : CoreBenchmark<Core_8x64x32, Core_8x64x32_Causal>(8, 64, 32);

/// <summary>4 heads x 512 tokens x 64.</summary>
public class Core_H4_S512_D64() : CoreBenchmark<Core_4x512x64, Core_4x512x64_Causal>(4, 512, 64);

/// <summary>16 heads x 1024 tokens x 64.</summary>
public class Core_H16_S1024_D64() : CoreBenchmark<Core_16x1024x64, Core_16x1024x64_Causal>(16, 1024, 64);
