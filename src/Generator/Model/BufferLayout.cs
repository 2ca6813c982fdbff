namespace AttnGen.Generator.Model
{
    /// <summary>One named region of a buffer: offset and length in floats.</summary>
    internal sealed record BufferRegion(string Name, int Offset, int Length);

    /// <summary>
    /// A buffer of the layer as named regions, each starting on a 16-float (64-byte) boundary. The shell emits one
    /// constant per region (<c>{Prefix}{Name}</c>, the offset from the buffer's start) and <c>{Prefix}Length</c>; the
    /// kernels address the buffer only through those constants.
    /// </summary>
    /// <param name="Prefix">Prefix of the emitted constants, e.g. <c>Work</c>.</param>
    /// <param name="Summary">What the buffer is, for the emitted comment.</param>
    /// <param name="Start">Offset of the first region (the saved state continues after the forward scratch).</param>
    /// <param name="Regions">The regions in address order.</param>
    /// <param name="Length">Floats of the whole buffer, <paramref name="Start"/> included.</param>
    internal sealed record BufferLayout(string Prefix, string Summary, int Start, EquatableArray<BufferRegion> Regions, int Length)
    {
        /// <summary>The offset of a region; throws for a name the layout does not have (a planner bug).</summary>
        public int Offset(string name)
        {
            foreach (BufferRegion region in Regions)
            {
                if (region.Name == name)
                {
                    return region.Offset;
                }
            }
            throw new System.ArgumentException($"The {Prefix} layout has no region '{name}'.", nameof(name));
        }

        /// <summary>Lays <paramref name="regions"/> out one after another from <paramref name="start"/>, each on a 16-float boundary.</summary>
        public static BufferLayout Sequential(string prefix, string summary, int start, params (string Name, int Length)[] regions)
        {
            var list = new BufferRegion[regions.Length];
            int offset = Align(start);
            for (int i = 0; i < regions.Length; i++)
            {
                list[i] = new BufferRegion(regions[i].Name, offset, regions[i].Length);
                offset = Align(offset + regions[i].Length);
            }
            return new BufferLayout(prefix, summary, start, new EquatableArray<BufferRegion>(list), System.Math.Max(offset, 16));
        }

        private static int Align(int n) => (n + 15) / 16 * 16;
    }
}
