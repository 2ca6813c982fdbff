namespace AttnGen.Kernels.Tests;

/// <summary>
/// Backward split over workers: the input gradients are the same bits for every thread count, and the
/// parameter gradients (summed per worker, then in worker order) agree to float rounding and repeat exactly
/// for the same thread count.
/// </summary>
public sealed class BackwardThreadTests
{
    [Theory]
    [MemberData(nameof(ForwardTests.Layers), MemberType = typeof(ForwardTests))]
    public void Backward_InputGradientsIdenticalAndParameterGradientsCloseForAnyThreadCount(string layerName)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        TestData.RandomParameters(layer, seed: 41);
        AttentionLayerInfo info = layer.Info;
        const int batch = 5;
        TestData.Inputs x = TestData.For(info, batch, seed: 43);
        int[] validLengths = [info.KvSeqLen, 1, info.KvSeqLen / 2, 0, info.KvSeqLen];
        float[] dy = TestData.Uniform(x.Output.Length, 47);

        (float[] Dq, float[] Dk, float[] Dv, float[] Parameters) Run(int threads)
        {
            layer.MaxDegreeOfParallelism = threads;
            var dq = new float[x.Query.Length];
            var dk = new float[x.Key.Length];
            var dv = new float[x.Value.Length];
            layer.ZeroGradients();
            layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, batch, validLengths);
            layer.Backward(dy, dq, dk, dv, batch, validLengths);
            return (dq, dk, dv, layer.GradientBlock.ToArray());
        }

        var one = Run(1);
        foreach (int threads in new[] { 2, 3, 8 })
        {
            var many = Run(threads);
            Assert.True(one.Dq.AsSpan().SequenceEqual(many.Dq), $"dquery differs with {threads} threads");
            Assert.True(one.Dk.AsSpan().SequenceEqual(many.Dk), $"dkey differs with {threads} threads");
            Assert.True(one.Dv.AsSpan().SequenceEqual(many.Dv), $"dvalue differs with {threads} threads");
            double scale = one.Parameters.Length == 0 ? 1 : Math.Max(1e-30, one.Parameters.Max(Math.Abs));
            for (int i = 0; i < one.Parameters.Length; i++)
            {
                Assert.True(Math.Abs(one.Parameters[i] - many.Parameters[i]) <= 1e-5 * scale,
                    $"parameter gradient {i}: {one.Parameters[i]} with 1 thread, {many.Parameters[i]} with {threads}");
            }
            var again = Run(threads);
            Assert.True(many.Parameters.AsSpan().SequenceEqual(again.Parameters), $"parameter gradients not repeatable with {threads} threads");
        }
    }
}
