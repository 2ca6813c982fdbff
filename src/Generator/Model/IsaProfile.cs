using System.Linq;

namespace AttnGen.Generator.Model
{
    /// <summary>
    /// One instruction-set path the generator emits kernels for: names, the JIT-time support check, the vector width,
    /// and the register tiles chosen for it. Every tile is sized by the register budget written next to it; one
    /// register-tile template (Emit/Kernels/Template) is rendered per profile. The scalar path is a profile too
    /// (<see cref="Scalar"/>: width 1, <c>float</c> as its vector), rendered by the same template.
    /// </summary>
    internal sealed class IsaProfile
    {
        private IsaProfile(
            string enumName, string suffix, string supportCheck, string? vectorClass, string opsStruct, int width,
            int gemmRows, int gemmVectors, int scoreRows, int scoreVectors, int keyBlock, int pvRows, int pvVectors,
            bool byLane = false, int passRegisters = 0, bool narrowScores = false, int backwardVectors = 0)
        {
            BackwardVectors = backwardVectors > 0 ? backwardVectors : gemmVectors;
            ByLane = byLane;
            NarrowScores = narrowScores;
            PassRegisters = passRegisters;
            EnumName = enumName;
            Suffix = suffix;
            SupportCheck = supportCheck;
            VectorClass = vectorClass;
            OpsStruct = opsStruct;
            Width = width;
            GemmRows = gemmRows;
            GemmVectors = gemmVectors;
            ScoreRows = scoreRows;
            ScoreVectors = scoreVectors;
            KeyBlock = keyBlock;
            PvRows = pvRows;
            PvVectors = pvVectors;
        }

        /// <summary>
        /// Whether the score tiles hand a key block's last vectors, fewer than a tile, to a one-vector instance, so a
        /// block seen in part (the causal diagonal, the sequence's last block) is scored up to the vector holding its last
        /// visible key rather than to the end of a tile. Worth its extra kernels only where the tile is wide.
        /// </summary>
        public bool NarrowScores { get; }

        /// <summary>Member of <c>AttnGen.KernelIsa</c>.</summary>
        public string EnumName { get; }

        /// <summary>Kernel name suffix, e.g. <c>avx512</c> in <c>Attention__avx512</c>.</summary>
        public string Suffix { get; }

        /// <summary>Expression that is true when the path can run; the JIT folds it to a constant.</summary>
        public string SupportCheck { get; }

        /// <summary>
        /// <c>global::System.Runtime.Intrinsics.Vector512</c> and so on; null on the scalar path, whose vector is a
        /// <c>float</c> (see <see cref="VectorType"/>).
        /// </summary>
        public string? VectorClass { get; }

        /// <summary>The vector of floats: <c>{VectorClass}&lt;float&gt;</c>, or <c>global::System.Single</c> at width 1.</summary>
        public string VectorType => VectorClass is null ? "global::System.Single" : $"{VectorClass}<float>";

        /// <summary>
        /// The runtime's <c>IVectorOps</c> struct of this width (<c>AttnGen.Vector512Ops</c> and so on); its multiply-add is
        /// fused on the AVX paths and <c>MultiplyAddEstimate</c> on the 128-bit one (fused on Neon and on x64 with FMA).
        /// </summary>
        public string OpsStruct { get; }

        /// <summary>Floats per vector.</summary>
        public int Width { get; }

        /// <summary>Rows of the projection GEMM register tile (MR).</summary>
        public int GemmRows { get; }

        /// <summary>Vectors across the projection GEMM register tile (NR = GemmVectors * Width).</summary>
        public int GemmVectors { get; }

        /// <summary>Query rows per attention tile (Br).</summary>
        public int ScoreRows { get; }

        /// <summary>Vectors of keys per score sub-tile held in registers.</summary>
        public int ScoreVectors { get; }

        /// <summary>Keys per online-softmax step (Bc), a multiple of ScoreVectors * Width.</summary>
        public int KeyBlock { get; }

        /// <summary>Rows of the P·V register tile.</summary>
        public int PvRows { get; }

        /// <summary>Vectors across the P·V register tile.</summary>
        public int PvVectors { get; }

        /// <summary>
        /// Vectors across the backward passes' register tiles: the attention backward's dV and dK tiles (GemmRows-narrowed
        /// rows, a reduction of at most four query tiles' rows) and the projection backward's dX and dW tiles (GemmRows
        /// rows, whose weights are read in place, not from packed panels); the projection GEMM's <see cref="GemmVectors"/>
        /// unless the profile says otherwise.
        /// </summary>
        public int BackwardVectors { get; }

        /// <summary>
        /// Whether the register tiles also carry a by-lane body (the 128-bit path on Arm64): A is loaded four
        /// reduction steps at a time as one vector and multiplied by lane (<c>Vector128Ops.MultiplyAddByLane</c>, one
        /// <c>fmla</c> by element) instead of broadcast element by element. The tile body tests
        /// <c>Vector128Ops.HasMultiplyAddByLane</c>, a JIT-time constant, so each machine compiles one of the two bodies.
        /// </summary>
        public bool ByLane { get; }

        /// <summary>
        /// The register file the broadcast body is sized to when it is smaller than the tile needs (16 xmm on x64
        /// without AVX2, where the 128-bit path runs); 0 when the tile fits as it is. A tile too big for it is
        /// computed in passes of <see cref="RowsPerPass"/> rows, each a whole reduction.
        /// </summary>
        public int PassRegisters { get; }

        /// <summary>
        /// Rows of the broadcast body per pass over the reduction: as many as keep every accumulator, the
        /// <paramref name="vectors"/> B vectors, the broadcast A element, the product temporary (no fused
        /// multiply-add on SSE-only machines: a multiply and an add) and the tail mask, if any, in
        /// <see cref="PassRegisters"/> registers; all <paramref name="rows"/> when there is no limit.
        /// </summary>
        public int RowsPerPass(int rows, int vectors, bool tail)
        {
            if (PassRegisters == 0)
            {
                return rows;
            }
            int fit = (PassRegisters - vectors - 2 - (tail ? 1 : 0)) / vectors;
            return System.Math.Max(1, System.Math.Min(rows, fit));
        }

        /// <summary>
        /// Vector registers the by-lane body keeps live: the accumulators, one A vector per row (four reduction steps)
        /// and the B vectors of one step.
        /// </summary>
        public static int ByLaneRegisters(int rows, int vectors, bool tail) => rows * vectors + rows + vectors + (tail ? 1 : 0);

        /// <summary>Panel width of packed projection weights (NR).</summary>
        public int PanelWidth => GemmVectors * Width;

        /// <summary>The vector paths, widest first (the order the dispatcher tries them).</summary>
        public static IsaProfile[] Vector { get; } =
        {
            // AVX-512, 32 zmm registers. GEMM 12x32: 24 accumulators + 2 weight vectors, the x value is an
            //   embedded broadcast operand = 26 live. Scores 6 rows x 64 keys: 24 accumulators + 4 key vectors
            //   + 1 broadcast = 29. P·V 6 rows x 4 vectors: 24 accumulators + 4 value vectors + 1 broadcast = 29,
            //   so one pass over a value block serves every row of the tile (D = 64 is exactly 4 vectors). Key block
            //   64 = one score tile, so the softmax bookkeeping is paid once per 64 keys. Measured on the
            //   8 x 128 x 64 core (BenchmarkDotNet short job, one thread, Zen 5): 8x32 tiles 680 us, 12x32
            //   1019 us, 4x64 372 us, 6x64 321 us.
            //   The projection backward's dX and dW GEMMs use the GEMM tile too (a row of W or X loaded, dY
            //   broadcast): 128 x 512 x 512 dX + dW in about 510 us on one thread (min of a Stopwatch loop);
            //   6 x 64 measured the same, so the one tile serves both directions.
            //   A 64-key score tile would score up to 63 keys no row sees on every causal diagonal block (and on the
            //   last block of a length off the block), so the score tiles narrow to 6 x 16 there: 6 accumulator
            //   chains, enough for one 512-bit FMA a cycle at 4 cycles' latency (three quarters of a 2-port core's).
            //   The AVX2 and 128-bit tiles are 16 keys wide and waste at most 15, not worth a further kernel per tile.
            //   The backward's dV and dK tiles are 8 keys x 1 vector: one B vector per step, so each row's A element is a
            //   single-use broadcast the JIT folds into its multiply-add as a memory operand ({1to16}); the 8 x 2 tile
            //   spends a separate broadcast per two multiply-adds. Their reduction is short (the rows of one pass, at most
            //   24), and there the 8 x 1 tile, timed alone on Zen 4 (64 keys x 64 dims, in L1), ran 101-117 GFLOP/s at 24
            //   rows and 94-99 at 12 against 92-96 and 79-103 for 8 x 2 (and 16 x 1: 112 and 77-108). The projection
            //   backward's dX and dW tiles are 12 x 1 for the same reason: the one-thread training step of the 8 x 128 x 64
            //   layer (ModelDim 512, batch 8) ran 0.94x its time with them. The forward GEMM keeps 12 x 2: at 12 x 1 the
            //   full 8 x 128 x 64 layer ran up to 8% slower.
            new IsaProfile("Avx512", "avx512",
                "global::System.Runtime.Intrinsics.X86.Avx512F.IsSupported && global::System.Runtime.Intrinsics.X86.Fma.IsSupported",
                "global::System.Runtime.Intrinsics.Vector512", "Vector512Ops", 16,
                gemmRows: 12, gemmVectors: 2, scoreRows: 6, scoreVectors: 4, keyBlock: 64, pvRows: 6, pvVectors: 4, narrowScores: true,
                backwardVectors: 1),
            // AVX2+FMA, 16 ymm registers. GEMM 6x16: 12 accumulators + 2 weight vectors + 1 broadcast = 15.
            //   Scores 6x16: the same 15. P·V 6x2: 12 accumulators + 2 value vectors + 1 broadcast = 15. Key block 64
            //   (four score tiles): the softmax bookkeeping and the P·V tile's reload and rescale of O are paid once per
            //   64 keys instead of 32; the block's keys and values (16 KB each at D = 64) still fit L1 one after the other.
            new IsaProfile("Avx2", "avx2",
                "global::System.Runtime.Intrinsics.X86.Avx2.IsSupported && global::System.Runtime.Intrinsics.X86.Fma.IsSupported",
                "global::System.Runtime.Intrinsics.Vector256", "Vector256Ops", 8,
                gemmRows: 6, gemmVectors: 2, scoreRows: 6, scoreVectors: 2, keyBlock: 64, pvRows: 6, pvVectors: 2),
            // 128-bit, two register files behind one path: Neon (Arm64) has 32 q registers and a by-element fmla,
            //   SSE (x64 without AVX2) 16 xmm and no fused multiply-add. The tiles (and so the packing, the
            //   attention tiling and every driver) are one for both; each register-tile kernel has two bodies:
            //   - Neon, by lane: GEMM 4 rows x 4 vectors = 16 accumulators + 4 A vectors (A[r, t..t+3], one per row)
            //     + 4 B vectors of one step = 24 of 32. Per four reduction steps: 64 fmla, 4 loads of A, 8 load
            //     pairs of B, the B row advance and the loop: 64 of about 84 instructions fmla (76%; the broadcast
            //     form spends an ldr s + dup per row and step, 16 of 34). Scores 4x16 and P·V 4x4 alike. A wider
            //     tile (6 x 4 = 24 + 6 + 4 = 34) does not fit; 8 x 2 (16 + 8 + 2) has the same mix and half the keys
            //     per score tile.
            //   - SSE, by broadcast in passes of 2 rows: 8 accumulators + 4 B vectors + 1 broadcast + 1 product
            //     temporary = 14 of 16 (the whole 4 x 4 tile needs 22 and spilled 6 accumulators every step).
            new IsaProfile("Vector128", "v128",
                "global::System.Runtime.Intrinsics.Vector128.IsHardwareAccelerated",
                "global::System.Runtime.Intrinsics.Vector128", "Vector128Ops", 4,
                gemmRows: 4, gemmVectors: 4, scoreRows: 4, scoreVectors: 4, keyBlock: 32, pvRows: 4, pvVectors: 4,
                byLane: true, passRegisters: 16),
        };

        /// <summary>
        /// The scalar path, one float per "vector" (<c>AttnGen.ScalarOps</c>), always generated and always supported:
        /// the dispatcher's last path. Scalar floats live in vector registers, 16 on x64 (xmm, SSE2) and 32 on Arm64.
        /// GEMM 2x4: 8 accumulators + 4 values of the B row + 1 broadcast A element + 1 product temporary (the scalar
        /// multiply-add is not fused) = 14 of x64's 16, so the tile does not spill on either machine (4x4 would need
        /// 22: it fits Arm64 but spills on x64, and renders twice the source per tile). Scores 2 rows x 4 keys and
        /// P·V 2 x 4 alike. Key block 64: the softmax bookkeeping (a max, an exp per row) is paid once per 64 keys.
        /// </summary>
        public static IsaProfile Scalar { get; } = new IsaProfile("Scalar", "scalar", "true", null, "ScalarOps", 1,
            gemmRows: 2, gemmVectors: 4, scoreRows: 2, scoreVectors: 4, keyBlock: 64, pvRows: 2, pvVectors: 4);

        /// <summary>Every path, widest first, the scalar one last: what the planner plans and the dispatcher tries.</summary>
        // After Vector: static initialisers run in declaration order.
        public static IsaProfile[] All { get; } = Vector.Concat(new[] { Scalar }).ToArray();
    }
}
