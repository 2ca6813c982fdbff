using System;
using System.Collections.Generic;
using System.Globalization;
using AttnGen.Generator.Model;

namespace AttnGen.Generator.Planning
{
    /// <summary>Turns a checked <see cref="LayerSpec"/> into a <see cref="KernelPlan"/>.</summary>
    internal static class KernelPlanner
    {
        /// <summary>
        /// Keys scored per online-softmax step on the scalar path. 64 scores (256 bytes) stay in L1 next to
        /// the HeadDim-long accumulator, and the running max and sum are rescaled once per 64 keys
        /// instead of once per key.
        /// </summary>
        public const int ScalarKeyBlock = 64;

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

            // Scratch for one sequence: projected q, k, v and the attention output (context) before the
            // output projection. Without projections the kernels read the inputs and write the output directly.
            int scratchQ = 0, scratchK = 0, scratchV = 0, scratchCtx = 0, scratchLength = 0;
            if (spec.Projections)
            {
                scratchQ = 0;
                scratchK = Align16(scratchQ + spec.SeqLen * queryWidth);
                scratchV = Align16(scratchK + spec.KvSeqLen * kvWidth);
                scratchCtx = Align16(scratchV + spec.KvSeqLen * kvWidth);
                scratchLength = Align16(scratchCtx + spec.SeqLen * queryWidth);
            }
            // Vector paths: per-worker tiles after the projection scratch, sized for the largest profile.
            int keyPad = 0, dimPad = 0, rows = 0, block = 0, packed = 0;
            foreach (IsaProfile isa in IsaProfile.Vector)
            {
                keyPad = Math.Max(keyPad, RoundUp(spec.KvSeqLen, isa.KeyBlock));
                dimPad = Math.Max(dimPad, RoundUp(spec.HeadDim, isa.Width));
                rows = Math.Max(rows, isa.ScoreRows);
                block = Math.Max(block, isa.KeyBlock);
                if (spec.Projections)
                {
                    int nr = isa.PanelWidth;
                    packed = Math.Max(packed,
                        PanelLength(queryWidth, spec.ModelDim, nr) + 2 * PanelLength(kvWidth, spec.ModelDim, nr) + PanelLength(spec.ModelDim, queryWidth, nr));
                }
            }
            int keyPack = scratchLength;
            int valuePack = Align16(keyPack + spec.HeadDim * keyPad);
            int outTile = Align16(valuePack + keyPad * dimPad);
            int probTile = Align16(outTile + rows * dimPad);
            int queryTile = Align16(probTile + rows * block);
            scratchLength = Math.Max(Align16(queryTile + rows * dimPad), 16);

            return new KernelPlan(
                spec,
                queryWidth,
                kvWidth,
                queryInputWidth,
                kvInputWidth,
                spec.Heads / spec.KvHeads,
                scale,
                FloatLiteral(scale),
                Math.Min(ScalarKeyBlock, spec.KvSeqLen),
                new EquatableArray<ParameterSlot>(slots),
                offset,
                scratchQ,
                scratchK,
                scratchV,
                scratchCtx,
                scratchLength,
                spec.Projections ? new LinearShape(spec.SeqLen, queryWidth, spec.ModelDim, spec.Bias) : null,
                spec.Projections ? new LinearShape(spec.KvSeqLen, kvWidth, spec.ModelDim, spec.Bias) : null,
                spec.Projections ? new LinearShape(spec.SeqLen, spec.ModelDim, queryWidth, spec.Bias) : null,
                spec.Projections && spec.SeqLen == spec.KvSeqLen)
            {
                ScratchKeyPack = keyPack,
                ScratchValuePack = valuePack,
                ScratchOutTile = outTile,
                ScratchProbTile = probTile,
                ScratchQueryTile = queryTile,
                PackedLength = Math.Max(packed, 16),
            };
        }

        public static int RoundUp(int n, int multiple) => (n + multiple - 1) / multiple * multiple;

        /// <summary>Floats of one projection's packed panels: ceil(N / NR) panels of K rows plus a bias row.</summary>
        public static int PanelLength(int n, int k, int panelWidth) => (n + panelWidth - 1) / panelWidth * (k + 1) * panelWidth;

        private static int Align16(int n) => (n + 15) / 16 * 16;

        /// <summary>A C# float literal that round-trips, independent of the machine's culture.</summary>
        public static string FloatLiteral(float value)
        {
            string text = value.ToString("R", CultureInfo.InvariantCulture);
            return text + "f";
        }
    }
}
