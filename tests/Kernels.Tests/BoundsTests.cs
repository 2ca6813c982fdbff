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
}
