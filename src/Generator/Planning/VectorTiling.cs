using AttnGen.Generator.Model;
using Planner = AttnGen.Generator.Planning.KernelPlanner;

namespace AttnGen.Generator.Planning
{
    /// <summary>
    /// The attention tiling of one layer on one path (a vector one or the scalar one), from its profile and shape:
    /// query rows per tile, keys per online-softmax step, padded sizes and the register tiles' widths. The
    /// forward and the backward read the same numbers from here. Computed once by <see cref="KernelPlanner"/> and kept in the plan (a record,
    /// so the plan stays value-equal for the incremental pipeline).
    /// </summary>
    internal sealed record VectorTiling
    {
        public VectorTiling(LayerSpec s, IsaProfile isa)
        {
            Isa = isa.EnumName;
            int vectors = (s.KvSeqLen + isa.Width - 1) / isa.Width;
            // Keys per online-softmax step: the profile's block, or for sequences shorter than it just enough whole
            // vectors to cover them (S = 16 on AVX-512 is one vector, not a 64-key block of padding).
            KeyBlock = vectors <= isa.ScoreVectors
                ? vectors * isa.Width
                : System.Math.Min(isa.KeyBlock, Planner.RoundUp(s.KvSeqLen, isa.ScoreVectors * isa.Width));
            SubTileWidth = System.Math.Min(isa.ScoreVectors * isa.Width, KeyBlock);
            ScoreStep = isa.NarrowScores ? isa.Width : SubTileWidth;
            KeyPad = Planner.RoundUp(s.KvSeqLen, KeyBlock);
            DimPad = Planner.RoundUp(s.HeadDim, isa.Width);
            QueryRows = System.Math.Min(isa.ScoreRows, s.SeqLen);
            FullTiles = s.SeqLen / QueryRows;
            LastRows = s.SeqLen % QueryRows;
            Scale = s.Scoring == ScoringKind.ScaledDotProduct ? "ScoreScale" : "1f";
            // P·V and dS·K tiles: PvRows x up to PvVectors vectors, as many as divide the padded head (so one kernel covers
            // every column block); dV and dK tiles: the projection's dW tile, narrowed likewise to divide the score tile and
            // the padded head.
            ValueColumns = LargestDivisor(DimPad / isa.Width, isa.PvVectors) * isa.Width;
            UpdateRows = LargestDivisor(SubTileWidth, isa.GemmRows);
            UpdateColumns = LargestDivisor(DimPad / isa.Width, isa.BackwardVectors) * isa.Width;
        }

        /// <summary>The profile this tiling is for (<see cref="IsaProfile.EnumName"/>).</summary>
        public string Isa { get; }

        /// <summary>Columns of the P·V and dS·K register tiles; divides <see cref="DimPad"/>.</summary>
        public int ValueColumns { get; }

        /// <summary>
        /// Keys per dV and dK register tile; divides <see cref="SubTileWidth"/> (so <see cref="KeyBlock"/>), since the
        /// backward updates a key block only as far as the last key some row of a pass sees, rounded up to this, which
        /// stays within the block (past a tile's scored keys the backward clears its P and dS up to there).
        /// </summary>
        public int UpdateRows { get; }

        /// <summary>Columns of the dV and dK register tiles; divides <see cref="DimPad"/>.</summary>
        public int UpdateColumns { get; }

        /// <summary>The largest divisor of <paramref name="n"/> that is at most <paramref name="limit"/>.</summary>
        private static int LargestDivisor(int n, int limit)
        {
            int d = System.Math.Min(n, limit);
            while (n % d != 0)
            {
                d--;
            }
            return d;
        }

        /// <summary>Keys per online-softmax step (Bc).</summary>
        public int KeyBlock { get; }

        /// <summary>Keys per score register tile (at most the profile's ScoreVectors · Width); divides <see cref="KeyBlock"/>.</summary>
        public int SubTileWidth { get; }

        /// <summary>
        /// The unit a key block's scored keys are rounded up to: a vector where the score tiles narrow
        /// (<see cref="IsaProfile.NarrowScores"/>: the vectors past their whole tiles are computed one at a time), else a
        /// whole score tile; divides <see cref="SubTileWidth"/>.
        /// </summary>
        public int ScoreStep { get; }

        /// <summary>Key/value rows after padding to whole key blocks.</summary>
        public int KeyPad { get; }

        /// <summary>HeadDim padded to whole vectors: the row stride of every attention tile.</summary>
        public int DimPad { get; }

        /// <summary>Query rows per tile (Br): the profile's, or the whole sequence when it is shorter.</summary>
        public int QueryRows { get; }

        /// <summary>Whole query tiles per head.</summary>
        public int FullTiles { get; }

        /// <summary>Rows of the last, partial tile (0 when the tiles are all whole).</summary>
        public int LastRows { get; }

        /// <summary>The score scale as C#: the layer's ScoreScale constant, or 1f without one.</summary>
        public string Scale { get; }
    }
}
