using System.ComponentModel;

namespace AttnGen;

/// <summary>
/// The register-tile kernels a generated layer hands <see cref="VectorAttention{TOps, TVec}"/> for one vector path,
/// each specialised on its tile, reduction and strides. "Last" kernels serve the last query tile of a sequence
/// when it has fewer rows than the others (null when every tile is whole).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public unsafe struct AttentionKernels
{
    /// <summary>
    /// S = Q·Kᵀ over one score tile, <c>(a, b, ldb, init, c, ldc)</c>: <c>init</c> is a row of zeros; for additive scoring
    /// the tile is the additive score's and <c>init</c> is the head's v.
    /// </summary>
    public delegate*<float*, float*, int, float*, float*, int, void> Score;

    /// <inheritdoc cref="Score"/>
    public delegate*<float*, float*, int, float*, float*, int, void> ScoreLast;

    /// <summary>dP = dO·Vᵀ over one score tile (the Gemm tile; the same kernel as <see cref="Score"/> unless scoring is additive).</summary>
    public delegate*<float*, float*, int, float*, float*, int, void> Product;

    /// <inheritdoc cref="Product"/>
    public delegate*<float*, float*, int, float*, float*, int, void> ProductLast;

    /// <summary>C = alpha[r]·C + A·B, <c>(a, depth, b, ldb, alpha, c, ldc)</c>: O = alpha ∘ O + P·V and dQ += dS·K.</summary>
    public delegate*<float*, int, float*, int, float*, float*, int, void> Accumulate;

    /// <inheritdoc cref="Accumulate"/>
    public delegate*<float*, int, float*, int, float*, float*, int, void> AccumulateLast;

    /// <summary>C += Aᵀ·B, <c>(a, lda, depth, b, ldb, c, ldc)</c>: dV += Pᵀ·dO and dK += dSᵀ·Q.</summary>
    public delegate*<float*, int, int, float*, int, float*, int, void> Transposed;
}
