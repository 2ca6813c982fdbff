using System.ComponentModel;

namespace AttnGen;

/// <summary>
/// The register-tile kernels a generated layer hands <see cref="VectorAttention{TOps, TVec}"/> for one vector path,
/// each specialised on its tile, reduction and strides, each looping over the column blocks of <c>width</c> columns. "Last" kernels serve the last query tile of a sequence
/// when it has fewer rows than the others (null when every tile is whole).
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public unsafe struct AttentionKernels
{
    /// <summary>
    /// S = Q·Kᵀ over a key block, <c>(a, b, ldb, init, c, ldc, width)</c>: <c>init</c> is a row of zeros; for additive scoring
    /// the tile is the additive score's and <c>init</c> is the head's v.
    /// </summary>
    public delegate*<float*, float*, int, float*, float*, int, int, void> Score;

    /// <inheritdoc cref="Score"/>
    public delegate*<float*, float*, int, float*, float*, int, int, void> ScoreLast;

    /// <summary>dP = dO·Vᵀ over a key block (the Gemm tile; the same kernel as <see cref="Score"/> unless scoring is additive).</summary>
    public delegate*<float*, float*, int, float*, float*, int, int, void> Product;

    /// <inheritdoc cref="Product"/>
    public delegate*<float*, float*, int, float*, float*, int, int, void> ProductLast;

    /// <summary>C = alpha[r]·C + A·B over a head, <c>(a, depth, b, ldb, alpha, c, ldc, width)</c>: O = alpha ∘ O + P·V and dQ += dS·K.</summary>
    public delegate*<float*, int, float*, int, float*, float*, int, int, void> Accumulate;

    /// <inheritdoc cref="Accumulate"/>
    public delegate*<float*, int, float*, int, float*, float*, int, int, void> AccumulateLast;

    /// <summary>C += Aᵀ·B over a key block and a head, <c>(a, lda, depth, b, ldb, c, ldc, height, width)</c>: dV += Pᵀ·dO and dK += dSᵀ·Q.</summary>
    public delegate*<float*, int, int, float*, int, float*, int, int, int, void> Transposed;
}
