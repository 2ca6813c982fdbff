namespace AttnGen.Kernels.Tests;

/// <summary>
/// Every layer on every path with its inputs and outputs placed against a guard page, after the end and
/// before the start: an out-of-bounds read or write crashes the run. The results must also equal a run
/// on ordinary arrays, bit for bit. Forward reads q, k, v and writes the output; backward reads the output
/// gradient and writes the three input gradients.
/// </summary>
public sealed class BoundsTests
{
    private const int Batch = 2;

    [Theory]
    [MemberData(nameof(ForwardTests.LayersAndPaths), MemberType = typeof(ForwardTests))]
    public void KernelsStayInsideTheirSpans(string layerName, KernelIsa isa)
    {
        Assert.SkipUnless(GuardedMemory.IsAvailable, "guard pages need mmap/mprotect (Linux)");
        (IAttentionLayer layer, TestData.Inputs x, int[] valid) = Setup(layerName, isa, seed: 83);
        using IAttentionLayer _ = layer;
        layer.Forward(x.Query, x.Key, x.Value, x.Output, Batch, valid);

        foreach (bool guardBefore in new[] { false, true })
        {
            using var q = new GuardedMemory(x.Query.Length, guardBefore);
            using var k = new GuardedMemory(x.Key.Length, guardBefore);
            using var v = new GuardedMemory(x.Value.Length, guardBefore);
            using var y = new GuardedMemory(x.Output.Length, guardBefore);
            x.Query.CopyTo(q.Span);
            x.Key.CopyTo(k.Span);
            x.Value.CopyTo(v.Span);

            layer.Forward(q.Span, k.Span, v.Span, y.Span, Batch, valid);

            Assert.True(y.Span.SequenceEqual(x.Output), $"guard {(guardBefore ? "before" : "after")}: output differs");
        }
    }

    [Theory]
    [MemberData(nameof(ForwardTests.LayersAndPaths), MemberType = typeof(ForwardTests))]
    public void BackwardKernelsStayInsideTheirSpans(string layerName, KernelIsa isa)
    {
        Assert.SkipUnless(GuardedMemory.IsAvailable, "guard pages need mmap/mprotect (Linux)");
        (IAttentionLayer layer, TestData.Inputs x, int[] valid) = Setup(layerName, isa, seed: 151);
        using IAttentionLayer _ = layer;
        float[] dy = TestData.Uniform(x.Output.Length, 163);
        var dq = new float[x.Query.Length];
        var dk = new float[x.Key.Length];
        var dv = new float[x.Value.Length];
        layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, Batch, valid);
        layer.ZeroGradients();
        layer.Backward(dy, dq, dk, dv, Batch, valid);
        float[] gradients = layer.GradientBlock.ToArray();

        foreach (bool guardBefore in new[] { false, true })
        {
            using var g = new GuardedMemory(dy.Length, guardBefore);
            using var gq = new GuardedMemory(dq.Length, guardBefore);
            using var gk = new GuardedMemory(dk.Length, guardBefore);
            using var gv = new GuardedMemory(dv.Length, guardBefore);
            dy.CopyTo(g.Span);
            layer.ZeroGradients();

            layer.Backward(g.Span, gq.Span, gk.Span, gv.Span, Batch, valid);

            string where = $"guard {(guardBefore ? "before" : "after")}";
            Assert.True(gq.Span.SequenceEqual(dq), $"{where}: query gradient differs");
            Assert.True(gk.Span.SequenceEqual(dk), $"{where}: key gradient differs");
            Assert.True(gv.Span.SequenceEqual(dv), $"{where}: value gradient differs");
            Assert.True(layer.GradientBlock.SequenceEqual(gradients), $"{where}: parameter gradients differ");
        }
    }

    /// <summary>The layer on <paramref name="isa"/> with random parameters, inputs for two sequences and their valid lengths (full, one short).</summary>
    private static (IAttentionLayer Layer, TestData.Inputs X, int[] Valid) Setup(string layerName, KernelIsa isa, int seed)
    {
        IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        TestData.RandomParameters(layer, seed);
        AttentionLayerInfo info = layer.Info;
        return (layer, TestData.For(info, Batch, seed + 6), [info.KvSeqLen, Math.Max(1, info.KvSeqLen - 1)]);
    }
}
