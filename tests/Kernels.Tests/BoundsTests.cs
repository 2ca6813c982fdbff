namespace AttnGen.Kernels.Tests;

/// <summary>
/// Every layer on every path with its inputs and output placed against a guard page, after the end and
/// before the start: an out-of-bounds read or write crashes the run. The results must also equal a run
/// on ordinary arrays, bit for bit.
/// </summary>
public sealed class BoundsTests
{
    [Theory]
    [MemberData(nameof(ForwardTests.LayersAndPaths), MemberType = typeof(ForwardTests))]
    public void KernelsStayInsideTheirSpans(string layerName, KernelIsa isa)
    {
        Assert.SkipUnless(GuardedMemory.IsAvailable, "guard pages need mmap/mprotect (Linux)");
        using IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        TestData.RandomParameters(layer, seed: 83);
        AttentionLayerInfo info = layer.Info;
        const int batch = 2;
        TestData.Inputs x = TestData.For(info, batch, seed: 89);
        int[] valid = [info.KvSeqLen, Math.Max(1, info.KvSeqLen - 1)];
        layer.Forward(x.Query, x.Key, x.Value, x.Output, batch, valid);

        foreach (bool guardBefore in new[] { false, true })
        {
            using var q = new GuardedMemory(x.Query.Length, guardBefore);
            using var k = new GuardedMemory(x.Key.Length, guardBefore);
            using var v = new GuardedMemory(x.Value.Length, guardBefore);
            using var y = new GuardedMemory(x.Output.Length, guardBefore);
            x.Query.CopyTo(q.Span);
            x.Key.CopyTo(k.Span);
            x.Value.CopyTo(v.Span);

            layer.Forward(q.Span, k.Span, v.Span, y.Span, batch, valid);

            Assert.True(y.Span.SequenceEqual(x.Output), $"guard {(guardBefore ? "before" : "after")}: output differs");
        }
    }

    /// <summary>
    /// Backward with the output gradient and the three input gradients against a guard page: the kernels
    /// read dY and write dX_q, dX_k, dX_v only inside their spans, and give the same bits as on arrays.
    /// </summary>
    [Theory]
    [MemberData(nameof(ForwardTests.LayersAndPaths), MemberType = typeof(ForwardTests))]
    public void BackwardStaysInsideItsSpans(string layerName, KernelIsa isa)
    {
        Assert.SkipUnless(GuardedMemory.IsAvailable, "guard pages need mmap/mprotect (Linux)");
        using IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        TestData.RandomParameters(layer, seed: 167);
        AttentionLayerInfo info = layer.Info;
        const int batch = 2;
        TestData.Inputs x = TestData.For(info, batch, seed: 173);
        float[] r = TestData.Uniform(x.Output.Length, 179);
        int[] valid = [info.KvSeqLen, Math.Max(1, info.KvSeqLen - 1)];
        var dq = new float[x.Query.Length];
        var dk = new float[x.Key.Length];
        var dv = new float[x.Value.Length];
        layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, batch, valid);
        layer.ZeroGradients();
        layer.Backward(r, dq, dk, dv, batch, valid);
        float[] dParams = layer.GradientBlock.ToArray();

        foreach (bool guardBefore in new[] { false, true })
        {
            using var dy = new GuardedMemory(r.Length, guardBefore);
            using var gq = new GuardedMemory(dq.Length, guardBefore);
            using var gk = new GuardedMemory(dk.Length, guardBefore);
            using var gv = new GuardedMemory(dv.Length, guardBefore);
            r.CopyTo(dy.Span);
            layer.ZeroGradients();

            layer.Backward(dy.Span, gq.Span, gk.Span, gv.Span, batch, valid);

            string where = guardBefore ? "before" : "after";
            Assert.True(gq.Span.SequenceEqual(dq), $"guard {where}: query gradient differs");
            Assert.True(gk.Span.SequenceEqual(dk), $"guard {where}: key gradient differs");
            Assert.True(gv.Span.SequenceEqual(dv), $"guard {where}: value gradient differs");
            Assert.True(layer.GradientBlock.SequenceEqual(dParams), $"guard {where}: parameter gradients differ");
        }
    }
}
