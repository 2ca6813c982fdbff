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

    [Theory]
    [MemberData(nameof(ForwardTests.LayersAndPaths), MemberType = typeof(ForwardTests))]
    public void Training_SequencesSharedByTwoOrThreeThreads_GiveTheBitsOfOneThread(string layerName, KernelIsa isa)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        TestData.RandomParameters(layer, seed: 67);
        TestData.AllowThreeSharingWorkers();
        AttentionLayerInfo info = layer.Info;
        var self = layer as ISelfAttentionLayer;
        // Batch 1: the one sequence is shared by every thread. Batch 3 on 2 threads: two whole sequences, then the third
        // shared by both (on 3 threads all three are whole, so it runs only as a control).
        foreach (int batch in new[] { 1, 3 })
        {
            TestData.Inputs x = TestData.For(info, batch, seed: 71 + batch);
            TestData.Inputs decoy = TestData.For(info, batch, seed: 79 + batch);
            float[] dy = TestData.Uniform(x.Output.Length, 73 + batch);
            int[] padded = batch == 1 ? [Math.Max(1, info.KvSeqLen * 2 / 3)] : [info.KvSeqLen, 1, Math.Max(1, info.KvSeqLen / 2)];
            foreach (int[] validLengths in new[] { [], padded })
            {
                foreach (bool oneInput in self is null ? new[] { false } : new[] { false, true })
                {
                    Result one = Train(layer, x, decoy, dy, batch, validLengths, threads: 1, oneInput);
                    foreach (int threads in new[] { 2, 3 })
                    {
                        Result many = Train(layer, x, decoy, dy, batch, validLengths, threads, oneInput);
                        string where = $"batch {batch}{(validLengths.Length > 0 ? " (padded)" : "")}{(oneInput ? ", one input" : "")} on {threads} threads ({layer.Isa})";
                        AssertSameBits(one.Output, many.Output, $"output, {where}");
                        AssertSameBits(one.Dq, many.Dq, $"dquery, {where}");
                        AssertSameBits(one.Dk, many.Dk, $"dkey, {where}");
                        AssertSameBits(one.Dv, many.Dv, $"dvalue, {where}");
                        if (batch == 1)
                        {
                            // One sequence: every part adds into the one gradient block, each element by one part.
                            AssertSameBits(one.Parameters, many.Parameters, $"parameter gradient, {where}");
                        }
                        else
                        {
                            double scale = one.Parameters.Length == 0 ? 1 : Math.Max(1e-30, one.Parameters.Max(Math.Abs));
                            for (int i = 0; i < one.Parameters.Length; i++)
                            {
                                Assert.True(Math.Abs(one.Parameters[i] - many.Parameters[i]) <= 1e-5 * scale,
                                    $"parameter gradient {i}, {where}: {many.Parameters[i]}, one thread gave {one.Parameters[i]}");
                            }
                            AssertSameBits(many.Parameters, Train(layer, x, decoy, dy, batch, validLengths, threads, oneInput).Parameters,
                                $"parameter gradient (repeated), {where}");
                        }
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(ForwardTests.Layers), MemberType = typeof(ForwardTests))]
    public void Backward_WorkersSummingSlicesOfTheGradientBlocks_GiveTheBitsOfTheCallersSum(string layerName)
    {
        // Batch 5: on 2 threads four whole sequences and one shared, on 3 threads three whole and two shared by teams.
        using IAttentionLayer layer = TestLayers.Create(layerName);
        TestData.RandomParameters(layer, seed: 101);
        TestData.AllowThreeSharingWorkers();
        const int batch = 5;
        TestData.Inputs x = TestData.For(layer.Info, batch, seed: 103);
        float[] dy = TestData.Uniform(x.Output.Length, 107);
        var dq = new float[x.Query.Length];
        var dk = new float[x.Key.Length];
        var dv = new float[x.Value.Length];
        float[] Gradients(int threads, int sharedFrom)
        {
            GradientReduction.SharedFromFloats = sharedFrom;
            layer.MaxDegreeOfParallelism = threads;
            layer.ZeroGradients();
            layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, batch);
            layer.Backward(dy, dq, dk, dv, batch);
            return layer.GradientBlock.ToArray();
        }

        try
        {
            foreach (int threads in new[] { 2, 3 })
            {
                AssertSameBits(Gradients(threads, int.MaxValue), Gradients(threads, 0), $"parameter gradient summed by {threads} workers");
            }
        }
        finally
        {
            GradientReduction.SharedFromFloats = 1 << 16;
        }
    }

    [Theory]
    [MemberData(nameof(ForwardTests.Layers), MemberType = typeof(ForwardTests))]
    public void Backward_OnANewLayer_SharedByThreads_AddsEveryPartsGradients(string layerName)
    {
        // The gradient block is made on first use: a Backward whose workers all start before anything touched it must
        // still add every part's share into one block. Fresh layers, gradients never read or zeroed before Backward.
        TestData.AllowThreeSharingWorkers();
        float[] expected = NewLayerGradients(layerName, threads: 1);
        foreach (int threads in new[] { 2, 3 })
        {
            for (int round = 0; round < 4; round++)
            {
                AssertSameBits(expected, NewLayerGradients(layerName, threads), $"parameter gradient on {threads} threads, new layer {round}");
            }
        }
    }

    private static float[] NewLayerGradients(string layerName, int threads)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        TestData.RandomParameters(layer, seed: 83);
        layer.MaxDegreeOfParallelism = threads;
        TestData.Inputs x = TestData.For(layer.Info, 1, seed: 89);
        float[] dy = TestData.Uniform(x.Output.Length, 97);
        var dq = new float[x.Query.Length];
        var dk = new float[x.Key.Length];
        var dv = new float[x.Value.Length];
        layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, 1);
        layer.Backward(dy, dq, dk, dv, 1);
        return layer.GradientBlock.ToArray();
    }

    private sealed record Result(float[] Output, float[] Dq, float[] Dk, float[] Dv, float[] Parameters);

    // One ForwardTrain and Backward on `threads` threads, after a ForwardTrain on other inputs, so that state a run
    // fails to save cannot be left over from the run before it.
    private static Result Train(IAttentionLayer layer, TestData.Inputs x, TestData.Inputs decoy, float[] dy, int batch, int[] validLengths, int threads, bool oneInput)
    {
        layer.MaxDegreeOfParallelism = 1;
        layer.ForwardTrain(decoy.Query, decoy.Key, decoy.Value, decoy.Output, batch, validLengths);
        layer.MaxDegreeOfParallelism = threads;
        layer.ZeroGradients();
        var output = new float[x.Output.Length];
        var dq = new float[x.Query.Length];
        output.AsSpan().Fill(float.NaN);
        dq.AsSpan().Fill(float.NaN);
        if (oneInput)
        {
            var self = (ISelfAttentionLayer)layer;
            self.ForwardTrain(x.Query, output, batch, validLengths);
            self.Backward(dy, dq, batch, validLengths);
            return new Result(output, dq, [], [], layer.GradientBlock.ToArray());
        }
        var dk = new float[x.Key.Length];
        var dv = new float[x.Value.Length];
        dk.AsSpan().Fill(float.NaN);
        dv.AsSpan().Fill(float.NaN);
        layer.ForwardTrain(x.Query, x.Key, x.Value, output, batch, validLengths);
        layer.Backward(dy, dq, dk, dv, batch, validLengths);
        return new Result(output, dq, dk, dv, layer.GradientBlock.ToArray());
    }

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        int same = expected.AsSpan().CommonPrefixLength(actual);
        Assert.True(same == expected.Length && expected.Length == actual.Length,
            $"{what} [{same}] is {(same < actual.Length ? actual[same] : float.NaN)}, expected {(same < expected.Length ? expected[same] : float.NaN)}");
    }
}
