using AttnGen.Generator.Model;
using AttnGen.Generator.Planning;

namespace AttnGen.Generator.Tests;

/// <summary>
/// The planner over a matrix of shapes: every buffer layout is aligned, ordered and large enough for what each
/// path's tiling addresses in it, the tilings' divisibility rules hold, and equal specs give equal plans (the
/// plan is a cache boundary of the incremental pipeline).
/// </summary>
public class PlannerTests
{
    public static TheoryData<int, int, int, int, int, int, bool, bool> Shapes()
    {
        var data = new TheoryData<int, int, int, int, int, int, bool, bool>();
        int[] headDims = [1, 3, 16, 24, 64, 80, 128];
        int[] lengths = [1, 7, 16, 37, 64, 65, 130];
        int i = 0;
        foreach (int d in headDims)
        {
            foreach (int s in lengths)
            {
                // heads, kvHeads, headDim, seqLen, kvSeqLen, scoring, causal, projections: a spread, not the full product.
                int heads = (i % 3) switch { 0 => 1, 1 => 4, _ => 6 };
                int kvHeads = heads % 2 == 0 && i % 4 == 1 ? heads / 2 : heads;
                int kvSeqLen = i % 5 == 2 ? s + 11 : s;
                int scoring = i % 3;
                data.Add(heads, kvHeads, d, s, kvSeqLen, scoring, i % 2 == 0, i % 7 != 3);
                i++;
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void LayoutsAreAlignedDisjointAndLargeEnough(int heads, int kvHeads, int headDim, int seqLen, int kvSeqLen, int scoring, bool causal, bool projections)
    {
        LayerSpec spec = Spec(heads, kvHeads, headDim, seqLen, kvSeqLen, scoring, causal, projections);
        KernelPlan plan = KernelPlanner.Plan(spec);

        foreach (BufferLayout layout in new[] { plan.Scratch, plan.Saved, plan.Work })
        {
            int end = layout.Start;
            foreach (BufferRegion region in layout.Regions)
            {
                Assert.True(region.Offset % 16 == 0, $"{layout.Prefix}{region.Name} at {region.Offset} is not 64-byte aligned");
                Assert.True(region.Offset >= end, $"{layout.Prefix}{region.Name} overlaps the region before it");
                Assert.True(region.Length >= 0);
                end = region.Offset + region.Length;
            }
            Assert.True(layout.Length >= end, $"{layout.Prefix}Length {layout.Length} ends before its last region ({end})");
            Assert.True(layout.Length % 16 == 0);
        }
        Assert.Equal(plan.Scratch.Length, plan.Saved.Start);

        int queryWidth = heads * headDim, kvWidth = kvHeads * headDim;
        int queryInput = projections ? spec.ModelDim : queryWidth, kvInput = projections ? spec.ModelDim : kvWidth;
        AssertRegion(plan.Saved, "Lse", heads * seqLen);
        AssertRegion(plan.Saved, "Query", seqLen * queryInput);
        AssertRegion(plan.Saved, "Key", kvSeqLen * kvInput);
        AssertRegion(plan.Saved, "Output", seqLen * spec.ModelDim);
        AssertRegion(plan.Work, "Query", seqLen * queryWidth);
        AssertRegion(plan.Work, "KeyInput", kvSeqLen * kvInput);
        if (projections)
        {
            AssertRegion(plan.Scratch, "Query", seqLen * queryWidth);
            AssertRegion(plan.Scratch, "Value", kvSeqLen * kvWidth);
            AssertRegion(plan.Scratch, "Context", seqLen * queryWidth);
        }

        // Every path's tiling, the scalar profile's too, fits the tiles the layouts reserve.
        Assert.Equal(new[] { "Avx512", "Avx2", "Vector128", "Scalar" }, plan.Tilings.Select(t => t.Isa));
        foreach (IsaProfile isa in IsaProfile.All)
        {
            VectorTiling t = plan.Tiling(isa);
            AssertRegion(plan.Scratch, "KeyPack", headDim * t.KeyPad);
            AssertRegion(plan.Scratch, "ValuePack", t.KeyPad * t.DimPad);
            // The runtime's forward driver runs TilesPerPass query tiles over each pass of the keys, each in its own tiles.
            int tiles = global::AttnGen.VectorAttention<global::AttnGen.ScalarOps, float>.TilesPerPass;
            AssertRegion(plan.Scratch, "OutTile", tiles * t.QueryRows * t.DimPad);
            AssertRegion(plan.Scratch, "ProbTile", tiles * t.QueryRows * t.KeyBlock);
            AssertRegion(plan.Scratch, "QueryTile", tiles * t.QueryRows * t.DimPad);
            AssertRegion(plan.Work, "TileKeysT", headDim * t.KeyPad);
            AssertRegion(plan.Work, "TileKeyGrad", t.KeyPad * t.DimPad);
            // The backward driver likewise runs its TilesPerPass query tiles over each key pass.
            int backwardTiles = global::AttnGen.VectorAttentionBackward<global::AttnGen.ScalarOps, float>.TilesPerPass;
            AssertRegion(plan.Work, "TileQuery", backwardTiles * t.QueryRows * t.DimPad);
            AssertRegion(plan.Work, "TileOutGrad", backwardTiles * t.QueryRows * t.DimPad);
            AssertRegion(plan.Work, "TileQueryGrad", backwardTiles * t.QueryRows * t.DimPad);
            AssertRegion(plan.Work, "TileProb", backwardTiles * t.QueryRows * t.KeyBlock);
            AssertRegion(plan.Work, "TileScoreGrad", backwardTiles * t.QueryRows * t.KeyBlock);
            if (scoring == (int)ScoringKind.Additive)
            {
                AssertRegion(plan.Work, "TileAdditiveVGrad", t.DimPad);
            }
            if (projections)
            {
                int nr = isa.PanelWidth;
                Assert.True(plan.PackedLength >= KernelPlanner.PanelLength(queryWidth, spec.ModelDim, nr) + 2 * KernelPlanner.PanelLength(kvWidth, spec.ModelDim, nr)
                    + KernelPlanner.PanelLength(spec.ModelDim, queryWidth, nr));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TilingsFollowTheirRules(int heads, int kvHeads, int headDim, int seqLen, int kvSeqLen, int scoring, bool causal, bool projections)
    {
        KernelPlan plan = KernelPlanner.Plan(Spec(heads, kvHeads, headDim, seqLen, kvSeqLen, scoring, causal, projections));

        foreach (IsaProfile isa in IsaProfile.All)
        {
            VectorTiling t = plan.Tiling(isa);
            Assert.True(t.KeyBlock > 0 && t.KeyBlock % isa.Width == 0 && t.KeyBlock <= isa.KeyBlock, $"{isa.EnumName}: key block {t.KeyBlock}");
            Assert.True(t.KeyPad >= kvSeqLen && t.KeyPad % t.KeyBlock == 0, $"{isa.EnumName}: key pad {t.KeyPad}");
            Assert.True(t.DimPad >= headDim && t.DimPad % isa.Width == 0 && t.DimPad < headDim + isa.Width);
            Assert.True(t.QueryRows >= 1 && t.QueryRows <= isa.ScoreRows && t.QueryRows <= seqLen);
            Assert.Equal(seqLen, t.FullTiles * t.QueryRows + t.LastRows);
            Assert.True(t.SubTileWidth <= t.KeyBlock && t.KeyBlock % t.SubTileWidth == 0, $"{isa.EnumName}: sub-tile {t.SubTileWidth} of {t.KeyBlock}");
            Assert.True(t.DimPad % t.ValueColumns == 0 && t.ValueColumns <= isa.PvVectors * isa.Width);
            // The runtime's AttentionTiling requires the score step and the update tile to divide the score tile (so a block's
            // scored keys and its updated keys are whole steps and whole update tiles within the block).
            Assert.True(t.ScoreStep == (isa.NarrowScores ? isa.Width : t.SubTileWidth) && t.SubTileWidth % t.ScoreStep == 0, $"{isa.EnumName}: score step {t.ScoreStep}");
            Assert.True(t.SubTileWidth % t.UpdateRows == 0 && t.KeyBlock % t.UpdateRows == 0 && t.UpdateRows <= isa.GemmRows);
            Assert.True(t.DimPad % t.UpdateColumns == 0 && t.UpdateColumns <= isa.BackwardVectors * isa.Width);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ScalarProfileIsPlannedAtWidthOne(int heads, int kvHeads, int headDim, int seqLen, int kvSeqLen, int scoring, bool causal, bool projections)
    {
        KernelPlan plan = KernelPlanner.Plan(Spec(heads, kvHeads, headDim, seqLen, kvSeqLen, scoring, causal, projections));
        IsaProfile scalar = IsaProfile.Scalar;
        VectorTiling t = plan.Tiling(scalar);

        // Width 1: nothing is padded to a vector, so no tile has a tail; keys are padded to whole 4-key score tiles only.
        Assert.Equal(1, scalar.Width);
        Assert.Equal(headDim, t.DimPad);
        int keyTiles = (kvSeqLen + 3) / 4 * 4;
        Assert.Equal(kvSeqLen <= 4 ? kvSeqLen : System.Math.Min(64, keyTiles), t.KeyBlock);
        Assert.Equal(System.Math.Min(4, t.KeyBlock), t.SubTileWidth);
        Assert.Equal(System.Math.Min(2, seqLen), t.QueryRows);
        Assert.Equal(seqLen / t.QueryRows, t.FullTiles);
        Assert.Equal(seqLen % t.QueryRows, t.LastRows);
        // Register tiles: the widest divisor of the head (and of the key block for dV, dK) up to the 2 x 4 tile.
        int expectedColumns = headDim % 4 == 0 ? 4 : headDim % 3 == 0 ? 3 : headDim % 2 == 0 ? 2 : 1;
        Assert.Equal(expectedColumns, t.ValueColumns);
        Assert.Equal(expectedColumns, t.UpdateColumns);
        Assert.Equal(t.KeyBlock % 2 == 0 ? 2 : 1, t.UpdateRows);

        // The scalar path packs its weights like the others: panels of 4 columns fit the packed buffer.
        if (projections)
        {
            Assert.Equal(4, scalar.PanelWidth);
            int m = heads * headDim + 5; // the ModelDim Spec declares with projections
            Assert.True(plan.PackedLength >= KernelPlanner.PanelLength(heads * headDim, m, 4) + 2 * KernelPlanner.PanelLength(kvHeads * headDim, m, 4)
                + KernelPlanner.PanelLength(m, heads * headDim, 4));
        }
    }

    [Fact]
    public void EqualSpecsGiveEqualPlans()
    {
        KernelPlan a = KernelPlanner.Plan(Spec(4, 2, 24, 37, 37, 0, true, true));
        KernelPlan b = KernelPlanner.Plan(Spec(4, 2, 24, 37, 37, 0, true, true));
        KernelPlan c = KernelPlanner.Plan(Spec(4, 2, 24, 38, 38, 0, true, true));

        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, c);
    }

    private static void AssertRegion(BufferLayout layout, string name, int needed)
    {
        BufferRegion region = layout.Regions.Single(r => r.Name == name);
        Assert.True(region.Length >= needed, $"{layout.Prefix}{name} holds {region.Length} floats; {needed} needed");
    }

    private static LayerSpec Spec(int heads, int kvHeads, int headDim, int seqLen, int kvSeqLen, int scoring, bool causal, bool projections)
        => new("Demo", EquatableArray<ContainingType>.Empty, "Layer", heads, headDim, seqLen, projections ? heads * headDim + 5 : heads * headDim,
            kvHeads, kvSeqLen, (ScoringKind)scoring, causal, projections, projections, 0.0);
}
