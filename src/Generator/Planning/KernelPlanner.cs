using System;
using System.Collections.Generic;
using System.Globalization;
using AttnGen.Generator.Model;

namespace AttnGen.Generator.Planning
{
    /// <summary>Turns a checked <see cref="LayerSpec"/> into a <see cref="KernelPlan"/>.</summary>
    internal static class KernelPlanner
    {
        public static KernelPlan Plan(LayerSpec spec)
        {
            int queryWidth = spec.Heads * spec.HeadDim;
            int kvWidth = spec.KvHeads * spec.HeadDim;
            int queryInputWidth = spec.Projections ? spec.ModelDim : queryWidth;
            int kvInputWidth = spec.Projections ? spec.ModelDim : kvWidth;

            float scale = spec.Scoring switch
            {
                ScoringKind.ScaledDotProduct => spec.Scale > 0 ? (float)spec.Scale : (float)(1.0 / Math.Sqrt(spec.HeadDim)),
                _ => 1f,
            };

            // Parameter block: PyTorch nn.MultiheadAttention order, then additive_v.
            var slots = new List<ParameterSlot>();
            int offset = 0;
            void Add(string name, string property, int[] shape, string init, int fanIn, int fanOut, string summary)
            {
                int length = 1;
                foreach (int d in shape)
                {
                    length *= d;
                }
                slots.Add(new ParameterSlot(name, property, new EquatableArray<int>(shape), offset, length, init, fanIn, fanOut, summary));
                // Each parameter starts on a 64-byte boundary so kernels may use aligned loads.
                offset += (length + 15) / 16 * 16;
            }

            int inRows = queryWidth + 2 * kvWidth;
            if (spec.Projections)
            {
                Add("in_proj_weight", "InProjWeight", new[] { inRows, spec.ModelDim }, "XavierUniform", spec.ModelDim, inRows,
                    $"q, k and v projection weights stacked by rows: [{inRows}, {spec.ModelDim}] (rows 0..{queryWidth - 1} are q, then {kvWidth} rows of k, then {kvWidth} of v).");
                if (spec.Bias)
                {
                    Add("in_proj_bias", "InProjBias", new[] { inRows }, "Zeros", spec.ModelDim, inRows,
                        $"q, k and v projection biases: [{inRows}].");
                }
                Add("out_proj.weight", "OutProjWeight", new[] { spec.ModelDim, queryWidth }, "LinearDefault", queryWidth, spec.ModelDim,
                    $"Output projection weight: [{spec.ModelDim}, {queryWidth}].");
                if (spec.Bias)
                {
                    Add("out_proj.bias", "OutProjBias", new[] { spec.ModelDim }, "Zeros", queryWidth, spec.ModelDim,
                        $"Output projection bias: [{spec.ModelDim}].");
                }
            }
            if (spec.Scoring == ScoringKind.Additive)
            {
                Add("additive_v", "AdditiveV", new[] { spec.Heads, spec.HeadDim }, "LinearDefault", spec.HeadDim, 1,
                    $"Additive scoring vectors v_h, one per head: [{spec.Heads}, {spec.HeadDim}].");
            }

            // Packed projection weights: the largest any path needs (the scalar one packs too).
            int packed = 0;
            if (spec.Projections)
            {
                foreach (IsaProfile isa in IsaProfile.All)
                {
                    int nr = isa.PanelWidth;
                    packed = Math.Max(packed,
                        PanelLength(queryWidth, spec.ModelDim, nr) + 2 * PanelLength(kvWidth, spec.ModelDim, nr) + PanelLength(spec.ModelDim, queryWidth, nr));
                }
            }
            var tilings = new List<VectorTiling>();
            foreach (IsaProfile isa in IsaProfile.All)
            {
                tilings.Add(new VectorTiling(spec, isa));
            }
            BufferLayout scratch = ScratchLayout(spec, queryWidth, kvWidth, tilings);
            BufferLayout saved = BufferLayout.Sequential("Train", "per-sequence state of ForwardTrain, after the forward scratch", scratch.Length,
                ("Lse", spec.Heads * spec.SeqLen),
                ("Query", spec.SeqLen * queryInputWidth),
                ("Key", spec.KvSeqLen * kvInputWidth),
                ("Value", spec.KvSeqLen * kvInputWidth),
                ("Output", spec.SeqLen * spec.ModelDim));
            BufferLayout work = WorkLayout(spec, queryWidth, kvWidth, kvInputWidth, tilings);

            return new KernelPlan(
                spec,
                queryWidth,
                kvWidth,
                queryInputWidth,
                kvInputWidth,
                spec.Heads / spec.KvHeads,
                scale,
                FloatLiteral(scale),
                new EquatableArray<ParameterSlot>(slots),
                offset,
                spec.Projections ? new LinearShape(spec.SeqLen, queryWidth, spec.ModelDim, spec.Bias) : null,
                spec.Projections ? new LinearShape(spec.KvSeqLen, kvWidth, spec.ModelDim, spec.Bias) : null,
                spec.Projections ? new LinearShape(spec.SeqLen, spec.ModelDim, queryWidth, spec.Bias) : null,
                spec.Projections && spec.SeqLen == spec.KvSeqLen)
            {
                Scratch = scratch,
                Saved = saved,
                Work = work,
                Tilings = new EquatableArray<VectorTiling>(tilings),
                PackedLength = Math.Max(packed, 16),
            };
        }

        /// <summary>Query tiles the forward driver runs over one pass of a head's keys (AttnGen.VectorAttention.TilesPerPass).</summary>
        private const int ForwardTilesPerPass = 2;

        /// <summary>Query tiles the backward driver runs over one pass of a head's keys (AttnGen.VectorAttentionBackward.TilesPerPass).</summary>
        private const int BackwardTilesPerPass = 4;

        /// <summary>
        /// The forward scratch of one sequence: with projections the projected q, k, v and the attention output
        /// (context) before the output projection; then the attention tiles, sized for the largest path's tiling:
        /// one key/value head's keys transposed and padded [HeadDim, KeyPad], its values [KeyPad, HeadDimPad], and
        /// the output, probability and query tiles of the query tiles that share a pass over the keys.
        /// </summary>
        private static BufferLayout ScratchLayout(LayerSpec spec, int queryWidth, int kvWidth, List<VectorTiling> tilings)
        {
            (int keyPad, int dimPad, int rows, int block) = LargestTiles(tilings);
            var regions = new List<(string, int)>();
            if (spec.Projections)
            {
                regions.Add(("Query", spec.SeqLen * queryWidth));
                regions.Add(("Key", spec.KvSeqLen * kvWidth));
                regions.Add(("Value", spec.KvSeqLen * kvWidth));
                regions.Add(("Context", spec.SeqLen * queryWidth));
            }
            regions.Add(("KeyPack", spec.HeadDim * keyPad));
            regions.Add(("ValuePack", keyPad * dimPad));
            // The forward driver runs ForwardTilesPerPass query tiles (AttnGen.VectorAttention.TilesPerPass) over each key pass.
            regions.Add(("OutTile", ForwardTilesPerPass * rows * dimPad));
            regions.Add(("ProbTile", ForwardTilesPerPass * rows * block));
            regions.Add(("QueryTile", ForwardTilesPerPass * rows * dimPad));
            return BufferLayout.Sequential("Scratch", "forward scratch of one sequence on one worker", 0, regions.ToArray());
        }

        /// <summary>
        /// The backward work area of one worker: gradients of the attention output, q, k, v and of the key/value
        /// inputs, then the attention backward's tiles, sized for the largest path's tiling: per key/value head Kᵀ and
        /// Vᵀ in key blocks, K rows and the dK, dV accumulators [KeyPad, HeadDimPad]; per query tile of a key pass the Q,
        /// dO and dQ rows and P and dS; with additive scoring v and its gradient.
        /// </summary>
        private static BufferLayout WorkLayout(LayerSpec spec, int queryWidth, int kvWidth, int kvInputWidth, List<VectorTiling> tilings)
        {
            (int keyPad, int dimPad, int rows, int block) = LargestTiles(tilings);
            var regions = new List<(string, int)>
            {
                ("Context", spec.SeqLen * queryWidth),
                ("Query", spec.SeqLen * queryWidth),
                ("Key", spec.KvSeqLen * kvWidth),
                ("Value", spec.KvSeqLen * kvWidth),
                ("KeyInput", spec.KvSeqLen * kvInputWidth),
                ("ValueInput", spec.KvSeqLen * kvInputWidth),
                ("TileKeysT", spec.HeadDim * keyPad),
                ("TileValuesT", spec.HeadDim * keyPad),
                ("TileKeys", keyPad * dimPad),
                ("TileKeyGrad", keyPad * dimPad),
                ("TileValueGrad", keyPad * dimPad),
                // The backward driver runs BackwardTilesPerPass query tiles over each key pass, each in its own tiles.
                ("TileQuery", BackwardTilesPerPass * rows * dimPad),
                ("TileOutGrad", BackwardTilesPerPass * rows * dimPad),
                ("TileQueryGrad", BackwardTilesPerPass * rows * dimPad),
                ("TileProb", BackwardTilesPerPass * rows * block),
                ("TileScoreGrad", BackwardTilesPerPass * rows * block),
            };
            if (spec.Scoring == ScoringKind.Additive)
            {
                regions.Add(("TileAdditiveV", dimPad));
                regions.Add(("TileAdditiveVGrad", dimPad));
            }
            return BufferLayout.Sequential("Work", "backward work area of one worker", 0, regions.ToArray());
        }

        /// <summary>The largest key pad, padded head, query tile and key block over every path's tiling.</summary>
        private static (int KeyPad, int DimPad, int Rows, int Block) LargestTiles(List<VectorTiling> tilings)
        {
            int keyPad = 0, dimPad = 0, rows = 0, block = 0;
            foreach (VectorTiling t in tilings)
            {
                keyPad = Math.Max(keyPad, t.KeyPad);
                dimPad = Math.Max(dimPad, t.DimPad);
                rows = Math.Max(rows, t.QueryRows);
                block = Math.Max(block, t.KeyBlock);
            }
            return (keyPad, dimPad, rows, block);
        }

        public static int RoundUp(int n, int multiple) => (n + multiple - 1) / multiple * multiple;

        /// <summary>Floats of one projection's packed panels: ceil(N / NR) panels of K rows plus a bias row.</summary>
        public static int PanelLength(int n, int k, int panelWidth) => (n + panelWidth - 1) / panelWidth * (k + 1) * panelWidth;

        /// <summary>A C# float literal that round-trips, independent of the machine's culture.</summary>
        public static string FloatLiteral(float value)
        {
            string text = value.ToString("R", CultureInfo.InvariantCulture);
            return text + "f";
        }
    }
}
