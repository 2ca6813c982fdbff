using AttnGen.Generator.Model;
using Planner = AttnGen.Generator.Planning.KernelPlanner;
using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Vector
{
    /// <summary>
    /// The attention tiling of one layer on one vector path, from its profile and shape: query rows per tile, keys
    /// per online-softmax step, padded sizes, and which operands are read in place. The forward and the backward
    /// read the same numbers from here.
    /// </summary>
    internal sealed class VectorTiling
    {
        public VectorTiling(KernelPlan plan, IsaProfile isa)
        {
            LayerSpec s = plan.Spec;
            Width = isa.Width;
            int vectors = (s.KvSeqLen + isa.Width - 1) / isa.Width;
            // Keys per online-softmax step: the profile's block, or for sequences shorter than it just enough whole
            // vectors to cover them (S = 16 on AVX-512 is one vector, not a 64-key block of padding).
            KeyBlock = vectors <= isa.ScoreVectors
                ? vectors * isa.Width
                : System.Math.Min(isa.KeyBlock, Planner.RoundUp(s.KvSeqLen, isa.ScoreVectors * isa.Width));
            SubTileWidth = System.Math.Min(isa.ScoreVectors * isa.Width, KeyBlock);
            KeyPad = Planner.RoundUp(s.KvSeqLen, KeyBlock);
            DimPad = Planner.RoundUp(s.HeadDim, isa.Width);
            QueryRows = System.Math.Min(isa.ScoreRows, s.SeqLen);
            FullTiles = s.SeqLen / QueryRows;
            LastRows = s.SeqLen % QueryRows;
            // Whole key blocks and whole vectors of HeadDim: P·V (and the backward's dS·K) read the values (keys)
            // where they are, no load leaving them; otherwise they are copied with zero padding.
            InPlace = s.KvSeqLen % KeyBlock == 0 && s.HeadDim % isa.Width == 0;
            RowStride = InPlace ? "KvWidth" : Inv(DimPad);
            Scale = plan.HasScale ? "ScoreScale" : "1f";
        }

        public int Width { get; }

        /// <summary>Keys per online-softmax step (Bc).</summary>
        public int KeyBlock { get; }

        /// <summary>Keys per score register tile (at most the profile's ScoreVectors · Width).</summary>
        public int SubTileWidth { get; }

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

        /// <summary>Whether values (forward) and keys (backward dQ) are read in place rather than packed.</summary>
        public bool InPlace { get; }

        /// <summary>The row stride of the values (keys) as read by P·V (dS·K): KvWidth in place, else DimPad.</summary>
        public string RowStride { get; }

        /// <summary>The score scale as C#: the layer's ScoreScale constant, or 1f without one.</summary>
        public string Scale { get; }

        /// <summary>
        /// A statement running <paramref name="call"/> with the kernel for the tile's row count n: one call when every
        /// tile has the same rows, else a choice between the whole tile's kernel and the last tile's.
        /// </summary>
        public string ByRows(System.Func<int, string> call)
        {
            if (FullTiles == 0 || LastRows == 0)
            {
                return call(LastRows == 0 ? QueryRows : LastRows);
            }
            return $"if (n == {Inv(QueryRows)}) {call(QueryRows)} else {call(LastRows)}";
        }
    }
}
