using AttnGen.Generator.Model;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Template
{
    /// <summary>What a register tile computes: the one loop structure every product of the kernels is an instance of.</summary>
    internal enum TileOp
    {
        /// <summary>
        /// <c>C[r, :] = init + Σ_{t &lt; K} A[r, t] · B[t, :]</c>, A row-major with a constant row stride, K constant:
        /// the projection GEMM (init = its bias row), its dX (init = zeros), and the score tiles S = Q·Kᵀ and dP = dO·Vᵀ.
        /// </summary>
        Gemm,

        /// <summary>
        /// <c>C[r, :] = alpha[r] · C[r, :] + Σ_{t &lt; depth} A[r, t] · B[t, :]</c>, depth at run time: P·V with the online
        /// softmax's rescale, and the backward's dQ += dS·K (alpha = 1).
        /// </summary>
        GemmScaled,

        /// <summary>
        /// <c>C[r, :] += Σ_{t &lt; depth} A[t, r] · B[t, :]</c>, A read transposed: the projection's dW += dYᵀ·X and the
        /// backward's dV += Pᵀ·dO and dK += dSᵀ·Q.
        /// </summary>
        GemmTransposed,

        /// <summary>
        /// <c>C[r, :] = Σ_{t &lt; K} v[t] · tanh(A[r, t] + B[t, :])</c>: the additive score tile, the Gemm loop with the
        /// multiply-add replaced by the additive score's term.
        /// </summary>
        Additive,
    }

    /// <summary>
    /// One register-tile kernel: <see cref="Rows"/> x <see cref="Columns"/> accumulators (MR x NR), fully unrolled
    /// inside the tile, a loop over the reduction. Value-equal, so two products with the same tile, reduction and
    /// strides share one emitted kernel. A column count that is not a whole number of vectors ends in a partial
    /// vector read and written through a lane mask (the one tail strategy); fewer rows or columns than the
    /// profile's tile are a smaller instance of the same template (the one remainder strategy).
    /// </summary>
    internal sealed record TileProduct(TileOp Op, int Rows, int Columns, int Depth, int ARowStride)
    {
        /// <summary>
        /// A broadcast-only tile that a larger 128-bit tile calls once per group of rows where there is no by-lane
        /// multiply-add (x64's SSE: 16 registers), named <c>__sse</c>.
        /// </summary>
        public bool Pass { get; init; }

        /// <summary>
        /// The width may end short of a whole tile by whole vectors (a key block's last scored keys, which stop at a
        /// vector past the last visible one): the tile, a <see cref="TileOp.Gemm"/> or <see cref="TileOp.Additive"/> score
        /// tile of more than one vector, computes those columns by its one-vector instance (the plain tile of that width);
        /// its name carries <c>_w{width}</c>. Set only where the tiling's score step is narrower than the tile.
        /// </summary>
        public bool Narrows { get; init; }

        /// <summary>A <see cref="TileOp.Gemm"/> tile with a constant reduction and A row stride.</summary>
        public static TileProduct Gemm(int rows, int columns, int depth, int aRowStride) => new(TileOp.Gemm, rows, columns, depth, aRowStride);

        /// <summary>A <see cref="TileOp.GemmScaled"/> tile; the reduction length is an argument.</summary>
        public static TileProduct Scaled(int rows, int columns, int aRowStride) => new(TileOp.GemmScaled, rows, columns, 0, aRowStride);

        /// <summary>A <see cref="TileOp.GemmTransposed"/> tile; A's stride and the reduction length are arguments.</summary>
        public static TileProduct Transposed(int rows, int columns) => new(TileOp.GemmTransposed, rows, columns, 0, 0);

        /// <summary>An <see cref="TileOp.Additive"/> score tile.</summary>
        public static TileProduct Additive(int rows, int columns, int depth, int aRowStride) => new(TileOp.Additive, rows, columns, depth, aRowStride);

        /// <summary>
        /// <c>{op}_{MR}x{NR}[_k{K}][_lda{stride}][_w{width}]__{isa}</c> (<c>__sse</c> for a row pass): the constants the
        /// kernel is specialised on are in its name, and <c>_w</c> when its width may end in whole vectors short of a tile.
        /// </summary>
        public string Name(IsaProfile isa)
        {
            string tile = $"{Inv(Rows)}x{Inv(Columns)}";
            string stride = ARowStride != Depth ? $"_lda{Inv(ARowStride)}" : "";
            stride += Narrows ? $"_w{Inv(isa.Width)}" : "";
            string name = Op switch
            {
                TileOp.Gemm => $"gemm_{tile}_k{Inv(Depth)}{stride}",
                TileOp.GemmScaled => $"gemm_scaled_{tile}_lda{Inv(ARowStride)}",
                TileOp.GemmTransposed => $"gemm_tn_{tile}",
                _ => $"additive_{tile}_k{Inv(Depth)}{stride}",
            };
            return Pass ? $"{name}__sse" : $"{name}__{isa.Suffix}";
        }
    }
}
