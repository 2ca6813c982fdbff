using static AttnGen.Generator.Emit.EmitCommon;

namespace AttnGen.Generator.Emit.Kernels.Template
{
    /// <summary>
    /// The loops that cover a constant-shaped <c>C[rows, columns]</c> with register tiles: column blocks of NR, in
    /// each a loop over whole tiles of MR rows, then one partial tile for the rows left; the columns left after the
    /// whole blocks are one more block of partial tiles. Remainders are always smaller instances of the same tile.
    /// <see cref="EmitRowsOuter"/> covers the same tiles with the two loops swapped.
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
            void Block(string column, int blockColumns)
                => Units(w, "r", rows, tileRows, (row, blockRows) => w.Line(call(row, column, blockRows, blockColumns)));

            if (split is not null)
            {
                SharedBlocks(w, columns, tileColumns, split, Block);
                return;
            }
            Units(w, "j", columns, tileColumns, Block);
        }

        /// <summary>
        /// The tiles of <see cref="Emit"/> (the same tiles, each computed alike) with the loops swapped: row tiles of MR
        /// outside, then the partial tile's rows; inside, the column blocks, shared out among the workers of
        /// <paramref name="split"/> as there (each a contiguous range, the last one also the partial block). For a
        /// product that accumulates into a large C (loads and stores every tile's C), so that C is walked along its rows:
        /// consecutive tiles touch consecutive cache lines, and the A rows of a row tile stay in L1 across its blocks.
        /// </summary>
        public static void EmitRowsOuter(SourceWriter w, int rows, int columns, int tileRows, int tileColumns, System.Func<string, string, int, int, string> call,
            string split)
            => Units(w, "r", rows, tileRows, (row, blockRows)
                => SharedBlocks(w, columns, tileColumns, split, (column, blockColumns) => w.Line(call(row, column, blockRows, blockColumns))));

        // The whole units of `unit` in `count` (a constant start when there is one, else a loop over `variable`), then the
        // partial unit: body(start, size).
        private static void Units(SourceWriter w, string variable, int count, int unit, System.Action<string, int> body)
        {
            int whole = count / unit, last = count % unit;
            if (whole == 1)
            {
                body("0", unit);
            }
            else if (whole > 1)
            {
                using (w.Open($"for (int {variable} = 0; {variable} < {Inv(whole * unit)}; {variable} += {Inv(unit)})"))
                {
                    body(variable, unit);
                }
            }
            if (last > 0)
            {
                body(Inv(whole * unit), last);
            }
        }

        // The column blocks of `split`'s worker: its contiguous range of the whole blocks (a loop over j), and the partial
        // block on the last worker. body(column, columns).
        private static void SharedBlocks(SourceWriter w, int columns, int tileColumns, string split, System.Action<string, int> body)
        {
            int fullBlocks = columns / tileColumns, lastColumns = columns % tileColumns;
            int blocks = fullBlocks + (lastColumns > 0 ? 1 : 0);
            string end = lastColumns > 0 ? $"global::System.Math.Min({split}.End({Inv(blocks)}), {Inv(fullBlocks)})" : $"{split}.End({Inv(blocks)})";
            if (fullBlocks > 0)
            {
                using (w.Open($"for (int j = {split}.Start({Inv(blocks)}) * {Inv(tileColumns)}, jEnd = {end} * {Inv(tileColumns)}; j < jEnd; j += {Inv(tileColumns)})"))
                {
                    body("j", tileColumns);
                }
            }
            if (lastColumns > 0)
            {
                using (w.Open($"if ({split}.IsLast)"))
                {
                    body(Inv(fullBlocks * tileColumns), lastColumns);
                }
            }
        }

        /// <summary>The address <paramref name="index"/> · <paramref name="stride"/> past <paramref name="pointer"/>, without the zero terms.</summary>
        public static string Offset(string pointer, string index, int stride)
            => PointerAt(pointer, index == "0" || stride == 1 ? index : $"{index} * {Inv(stride)}");
    }
}
