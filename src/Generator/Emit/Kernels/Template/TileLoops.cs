using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Template
{
    /// <summary>
    /// The loops that cover a constant-shaped <c>C[rows, columns]</c> with register tiles: column blocks of NR, in
    /// each a loop over whole tiles of MR rows, then one partial tile for the rows left; the columns left after the
    /// whole blocks are one more block of partial tiles. Remainders are always smaller instances of the same tile.
    /// </summary>
    internal static class TileLoops
    {
        /// <summary>
        /// <paramref name="call"/> gets the row and column expressions of a tile's corner (<c>r</c>, <c>j</c> or
        /// constants) and the tile's rows and columns, and returns the statement that computes it. With
        /// <paramref name="split"/> (the name of a <c>SequenceSplit</c>) the column blocks are shared out among the
        /// workers of a sequence: each runs a contiguous range of them, the last one also the partial block.
        /// </summary>
        public static void Emit(SourceWriter w, int rows, int columns, int tileRows, int tileColumns, System.Func<string, string, int, int, string> call,
            string? split = null)
        {
            int fullBlocks = columns / tileColumns, lastColumns = columns % tileColumns;
            int fullTiles = rows / tileRows, lastRows = rows % tileRows;

            void Block(string column, int blockColumns)
            {
                if (fullTiles == 1)
                {
                    w.Line(call("0", column, tileRows, blockColumns));
                }
                else if (fullTiles > 1)
                {
                    using (w.Open($"for (int r = 0; r < {Inv(fullTiles * tileRows)}; r += {Inv(tileRows)})"))
                    {
                        w.Line(call("r", column, tileRows, blockColumns));
                    }
                }
                if (lastRows > 0)
                {
                    w.Line(call(Inv(fullTiles * tileRows), column, lastRows, blockColumns));
                }
            }

            if (split is not null)
            {
                int blocks = fullBlocks + (lastColumns > 0 ? 1 : 0);
                string end = lastColumns > 0 ? $"global::System.Math.Min({split}.End({Inv(blocks)}), {Inv(fullBlocks)})" : $"{split}.End({Inv(blocks)})";
                if (fullBlocks > 0)
                {
                    using (w.Open($"for (int j = {split}.Start({Inv(blocks)}) * {Inv(tileColumns)}, jEnd = {end} * {Inv(tileColumns)}; j < jEnd; j += {Inv(tileColumns)})"))
                    {
                        Block("j", tileColumns);
                    }
                }
                if (lastColumns > 0)
                {
                    using (w.Open($"if ({split}.IsLast)"))
                    {
                        Block(Inv(fullBlocks * tileColumns), lastColumns);
                    }
                }
                return;
            }
            if (fullBlocks == 1)
            {
                Block("0", tileColumns);
            }
            else if (fullBlocks > 1)
            {
                using (w.Open($"for (int j = 0; j < {Inv(fullBlocks * tileColumns)}; j += {Inv(tileColumns)})"))
                {
                    Block("j", tileColumns);
                }
            }
            if (lastColumns > 0)
            {
                Block(Inv(fullBlocks * tileColumns), lastColumns);
            }
        }

        /// <summary>The address <paramref name="index"/> · <paramref name="stride"/> past <paramref name="pointer"/>, without the zero terms.</summary>
        public static string Offset(string pointer, string index, int stride)
            => PointerAt(pointer, index == "0" || stride == 1 ? index : $"{index} * {Inv(stride)}");
    }
}
