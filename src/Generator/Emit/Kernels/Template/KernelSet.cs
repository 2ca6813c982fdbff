using System.Collections.Generic;

namespace AttnGen.Generator.Emit.Kernels.Template
{
    /// <summary>
    /// The register-tile kernels one vector file needs, each emitted once however many products use it (the
    /// forward projection and its dX share a tile when their reductions match; S = Q·Kᵀ and dP = dO·Vᵀ share one).
    /// </summary>
    internal sealed class KernelSet
    {
        private readonly VectorSyntax _syntax;
        private readonly List<TileProduct> _tiles = new();
        private readonly HashSet<TileProduct> _seen = new();

        public KernelSet(VectorSyntax syntax) => _syntax = syntax;

        public VectorSyntax Syntax => _syntax;

        /// <summary>Records that a product uses <paramref name="tile"/> and returns the kernel's name.</summary>
        public string Use(TileProduct tile)
        {
            if (_seen.Add(tile))
            {
                _tiles.Add(tile);
            }
            return tile.Name(_syntax.Isa);
        }

        /// <summary>Every kernel used, in the order first used.</summary>
        public void EmitAll(SourceWriter w)
        {
            // By index: a kernel may use further kernels (the 128-bit row passes), which are emitted after it.
            for (int i = 0; i < _tiles.Count; i++)
            {
                RegisterTileEmitter.Emit(w, _tiles[i], _syntax, Use);
            }
        }
    }
}
