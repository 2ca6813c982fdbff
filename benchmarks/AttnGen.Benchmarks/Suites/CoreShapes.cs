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

/// <summary>8 heads x 256 tokens x 128 (a head wider than the 64-column P·V tile).</summary>
public class Core_H8_S256_D128() : CoreBenchmark<Core_8x256x128, Core_8x256x128_Causal>(8, 256, 128);

/// <summary>8 heads x 256 tokens x 80 (a head dim that is not a power of two).</summary>
public class Core_H8_S256_D80() : CoreBenchmark<Core_8x256x80, Core_8x256x80_Causal>(8, 256, 80);

/// <summary>8 heads x 100 tokens x 64 (not a multiple of 64; compare Core_H8_S128_D64).</summary>
public class Core_H8_S100_D64() : CoreBenchmark<Core_8x100x64, Core_8x100x64_Causal>(8, 100, 64);

/// <summary>8 heads x 320 tokens x 64 (the multiple of 64 nearest 333).</summary>
public class Core_H8_S320_D64() : CoreBenchmark<Core_8x320x64, Core_8x320x64_Causal>(8, 320, 64);

/// <summary>8 heads x 333 tokens x 64 (not a multiple of 64; compare Core_H8_S320_D64).</summary>
public class Core_H8_S333_D64() : CoreBenchmark<Core_8x333x64, Core_8x333x64_Causal>(8, 333, 64);

/// <summary>8 heads x 384 tokens x 64.</summary>
public class Core_H8_S384_D64() : CoreBenchmark<Core_8x384x64, Core_8x384x64_Causal>(8, 384, 64);
