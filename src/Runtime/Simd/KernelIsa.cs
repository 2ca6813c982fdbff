using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace AttnGen;

/// <summary>The instruction-set paths a generated layer carries.</summary>
public enum KernelIsa
{
    /// <summary>One float at a time (the register-tile kernels at width 1): the fallback on any machine.</summary>
    Scalar = 0,

    /// <summary>128-bit vectors: Arm AdvSimd (Neon) on Arm64; SSE (with FMA when present) on x64.</summary>
    Vector128 = 1,

    /// <summary>256-bit vectors with AVX2 and FMA.</summary>
    Avx2 = 2,

    /// <summary>512-bit vectors with AVX-512F.</summary>
    Avx512 = 3,
}

/// <summary>Which <see cref="KernelIsa"/> paths this machine runs.</summary>
public static class KernelIsaSupport
{
    /// <summary>The widest path this process supports (what a layer uses by default).</summary>
    public static KernelIsa Best =>
        IsSupported(KernelIsa.Avx512) ? KernelIsa.Avx512
        : IsSupported(KernelIsa.Avx2) ? KernelIsa.Avx2
        : IsSupported(KernelIsa.Vector128) ? KernelIsa.Vector128
        : KernelIsa.Scalar;

    /// <summary>Whether this process can run <paramref name="isa"/> (honours DOTNET_EnableAVX512=0 and friends).</summary>
    public static bool IsSupported(KernelIsa isa) => isa switch
    {
        KernelIsa.Scalar => true,
        KernelIsa.Vector128 => AdvSimd.IsSupported || (Sse41.IsSupported && Vector128.IsHardwareAccelerated),
        KernelIsa.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        KernelIsa.Avx512 => Avx512F.IsSupported && Fma.IsSupported,
        _ => false,
    };

    /// <summary>Every path this process supports, narrowest first.</summary>
    public static IReadOnlyList<KernelIsa> Supported { get; } =
        Enum.GetValues<KernelIsa>().Where(IsSupported).ToArray();
}
