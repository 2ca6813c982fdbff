namespace AttnGen.Kernels.Tests;

/// <summary>
/// Misuse that used to give wrong numbers silently: two threads in one instance, and spans that share memory.
/// The rules: one call at a time per instance (a second concurrent call throws InvalidOperationException);
/// the self-attention Forward may run in place (output and input the same span); every other overlap between a
/// span a call writes and any other span of the call is an ArgumentException, raised before anything is written.
/// </summary>
[Collection(nameof(SteadyStateAllocation))]
public sealed class MisuseTests
{
    private delegate void SelfForward(IAttentionLayer layer, ReadOnlySpan<float> input, Span<float> output, int batch);

    // Every self-attention layer of the kernel tests, with its Forward(input, output, batch) overload.
    private static readonly Dictionary<string, SelfForward> s_selfForward = new()
    {
        [nameof(SelfProj_4x24x37_m80)] = (l, x, y, b) => ((SelfProj_4x24x37_m80)l).Forward(x, y, b),
        [nameof(SelfCausal_2x80x37)] = (l, x, y, b) => ((SelfCausal_2x80x37)l).Forward(x, y, b),
        [nameof(Single_3x3x1)] = (l, x, y, b) => ((Single_3x3x1)l).Forward(x, y, b),
        [nameof(HeadDim1_2x1x17_m5)] = (l, x, y, b) => ((HeadDim1_2x1x17_m5)l).Forward(x, y, b),
        [nameof(GqaCausal_6kv2x16x33)] = (l, x, y, b) => ((GqaCausal_6kv2x16x33)l).Forward(x, y, b),
        [nameof(Mqa_4kv1x8x20_m24)] = (l, x, y, b) => ((Mqa_4kv1x8x20_m24)l).Forward(x, y, b),
        [nameof(Dot_2x24x19)] = (l, x, y, b) => ((Dot_2x24x19)l).Forward(x, y, b),
        [nameof(Additive_2x24x19)] = (l, x, y, b) => ((Additive_2x24x19)l).Forward(x, y, b),
        [nameof(NoBias_3x16x21_m40)] = (l, x, y, b) => ((NoBias_3x16x21_m40)l).Forward(x, y, b),
        [nameof(Scaled_2x32x16)] = (l, x, y, b) => ((Scaled_2x32x16)l).Forward(x, y, b),
        [nameof(LongCausal_1x64x200)] = (l, x, y, b) => ((LongCausal_1x64x200)l).Forward(x, y, b),
        [nameof(EdgeGemmOnTile_4x8x12_m32)] = (l, x, y, b) => ((EdgeGemmOnTile_4x8x12_m32)l).Forward(x, y, b),
        [nameof(EdgeGemmAboveTile_3x11x13_m33)] = (l, x, y, b) => ((EdgeGemmAboveTile_3x11x13_m33)l).Forward(x, y, b),
        [nameof(EdgeGemmBelowTile_5x3x11_m31)] = (l, x, y, b) => ((EdgeGemmBelowTile_5x3x11_m31)l).Forward(x, y, b),
    };

    public static TheoryData<string, KernelIsa> SelfLayersAndPaths()
    {
        var data = new TheoryData<string, KernelIsa>();
        foreach (string layer in s_selfForward.Keys)
        {
            foreach (KernelIsa isa in KernelIsaSupport.Supported)
            {
                data.Add(layer, isa);
            }
        }
        return data;
    }

    // ---- One call at a time ----

    [Fact]
    public void TwoThreadsInOneInstance_OneOfThemThrows_AndEveryCompletedCallIsRight()
    {
        using var layer = new LongCausal_1x64x200 { MaxDegreeOfParallelism = 1 };
        TestData.RandomParameters(layer, seed: 41);
        const int batch = 4;
        TestData.Inputs x = TestData.For(LongCausal_1x64x200.LayerInfo, batch, seed: 43);
        layer.Forward(x.Query, x.Output, batch);
        float[] expected = (float[])x.Output.Clone();

        const int MaxCalls = 2000;
        int busy = 0, wrong = 0;
        string? message = null;
        using var start = new Barrier(2);
        void Run()
        {
            var output = new float[expected.Length];
            start.SignalAndWait();
            for (int call = 0; call < MaxCalls && Volatile.Read(ref busy) == 0; call++)
            {
                try
                {
                    Array.Clear(output);
                    layer.Forward(x.Query, output, batch);
                    if (!output.AsSpan().SequenceEqual(expected))
                    {
                        Interlocked.Increment(ref wrong);
                    }
                }
                catch (InvalidOperationException e)
                {
                    Interlocked.Exchange(ref message, e.Message);
                    Interlocked.Increment(ref busy);
                }
            }
        }
        var threads = new[] { new Thread(Run), new Thread(Run) };
        foreach (Thread t in threads)
        {
            t.Start();
        }
        foreach (Thread t in threads)
        {
            t.Join();
        }

        Assert.Equal(0, wrong);
        Assert.True(busy > 0, $"{2 * MaxCalls} overlapping calls on one instance raised no InvalidOperationException.");
        Assert.Equal(
            "Forward was called on a LongCausal_1x64x200 instance while Forward is still running on it. A layer instance runs one " +
            "call at a time (it owns its scratch memory): use one instance per thread, or pass the sequences of all threads as one batch.",
            message);

        // The gate is released: the instance works again on one thread.
        Array.Clear(x.Output);
        layer.Forward(x.Query, x.Output, batch);
        Assert.Equal(expected, x.Output);
    }

    [Fact]
    public void ARejectedCall_ReleasesTheInstance()
    {
        using var layer = new SelfProj_4x24x37_m80();
        TestData.Inputs x = TestData.For(SelfProj_4x24x37_m80.LayerInfo, 1, seed: 1);
        Assert.Throws<ArgumentException>(() => layer.Forward(x.Query.AsSpan(1), x.Output, 1));
        Assert.Throws<InvalidOperationException>(() => layer.Backward(x.Output, x.Query, 1)); // no ForwardTrain yet
        layer.Forward(x.Query, x.Output, 1);
        layer.ForwardTrain(x.Query, x.Output, 1);
        layer.Backward(x.Output, new float[x.Query.Length], 1);
    }

    [Fact]
    public void TheChecks_AllocateNothing()
    {
        using var layer = new SelfProj_4x24x37_m80 { MaxDegreeOfParallelism = 1 };
        TestData.Inputs x = TestData.For(SelfProj_4x24x37_m80.LayerInfo, 2, seed: 3);
        float[] grad = new float[x.Query.Length], dk = new float[x.Key.Length], dv = new float[x.Value.Length];
        void Calls()
        {
            layer.Forward(x.Query, x.Output, 2);
            layer.Forward(x.Query, x.Key, x.Value, x.Output, 2);
            layer.ForwardTrain(x.Query, x.Output, 2);
            layer.Backward(x.Output, grad, 2);
            layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, 2);
            layer.Backward(x.Output, grad, dk, dv, 2);
        }
        Calls(); // sizes the buffers and compiles the code
        Calls();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Calls();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Forward_OneSequenceOnTwoThreads_AllocatesNothing_InTheSteadyState()
    {
        TestData.AllowThreeSharingWorkers();
        using var layer = new SelfProj_4x24x37_m80 { MaxDegreeOfParallelism = 2 };
        TestData.Inputs x = TestData.For(SelfProj_4x24x37_m80.LayerInfo, 1, seed: 5);
        int[] valid = [20];
        void Calls()
        {
            layer.Forward(x.Query, x.Output, 1);
            layer.Forward(x.Query, x.Key, x.Value, x.Output, 1, valid);
        }
        Calls(); // sizes the buffers, makes the barrier and compiles the code
        Calls();
        AssertAMeasuredRoundAllocatesNothing(Calls);
    }

    [Fact]
    public void Training_OneSequenceOnTwoThreads_AllocatesNothing_InTheSteadyState()
    {
        TestData.AllowThreeSharingWorkers();
        using var layer = new SelfProj_4x24x37_m80 { MaxDegreeOfParallelism = 2 };
        TestData.Inputs x = TestData.For(SelfProj_4x24x37_m80.LayerInfo, 1, seed: 7);
        float[] grad = new float[x.Query.Length], dk = new float[x.Key.Length], dv = new float[x.Value.Length];
        int[] valid = [20];
        void Calls()
        {
            layer.ForwardTrain(x.Query, x.Output, 1);
            layer.Backward(x.Output, grad, 1);
            layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, 1, valid);
            layer.Backward(x.Output, grad, dk, dv, 1, valid);
        }
        Calls(); // sizes the buffers, makes the barrier and compiles the code
        Calls();
        AssertAMeasuredRoundAllocatesNothing(Calls);
    }

    // Up to three measured rounds of two calls each, one of which must allocate nothing: the second worker is queued on
    // the thread pool's global queue, which the test classes running alongside share, and that queue now and then grows
    // a segment on whichever thread queues work at that moment. Code that allocates allocates in every round.
    private static void AssertAMeasuredRoundAllocatesNothing(Action calls)
    {
        var allocated = new List<long>();
        for (int attempt = 0; attempt < 3 && (allocated.Count == 0 || allocated[^1] != 0); attempt++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            calls();
            calls();
            allocated.Add(GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.True(allocated[^1] == 0, $"every measured round allocated ({string.Join(", ", allocated)} bytes)");
    }

    // ---- Overlapping spans ----

    [Theory]
    [MemberData(nameof(SelfLayersAndPaths))]
    public void ForwardInPlace_GivesTheSameBitsAsSeparateBuffers(string layerName, KernelIsa isa)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        layer.MaxDegreeOfParallelism = 2;
        TestData.RandomParameters(layer, seed: 47);
        const int batch = 3;
        TestData.Inputs x = TestData.For(layer.Info, batch, seed: 53);
        Assert.Equal(x.Query.Length, x.Output.Length);
        s_selfForward[layerName](layer, x.Query, x.Output, batch);

        float[] inPlace = (float[])x.Query.Clone();
        s_selfForward[layerName](layer, inPlace, inPlace, batch);

        Assert.Equal(x.Output, inPlace);
    }

    [Fact]
    public void ForwardOutputOverlappingTheNextSequence_IsRejected()
    {
        using var layer = new SelfProj_4x24x37_m80();
        int sequence = SelfProj_4x24x37_m80.SeqLen * SelfProj_4x24x37_m80.ModelDim;
        float[] buffer = TestData.Uniform(3 * sequence, seed: 59);
        float[] before = (float[])buffer.Clone();

        // Output shifted by half a sequence: it would overwrite the input of the next sequence before it is read.
        var e = Assert.Throws<ArgumentException>(() => layer.Forward(buffer.AsSpan(0, 2 * sequence), buffer.AsSpan(sequence / 2, 2 * sequence), 2));
        Assert.Equal("output", e.ParamName);
        Assert.StartsWith($"'output' ({2 * sequence} floats) overlaps 'input' ({2 * sequence} floats): 'input' starts {sequence / 2} floats before the start of 'output'.", e.Message);
        Assert.Equal(before, buffer);
    }

    public static TheoryData<string> CrossOverlaps() => new("output=query", "output=key", "output=value", "output inside key");

    [Theory]
    [MemberData(nameof(CrossOverlaps))]
    public void ForwardOutputSharingMemoryWithAnInput_IsRejected(string overlap)
    {
        using var layer = new Cross_4x24_13over37();
        TestData.Inputs x = TestData.For(Cross_4x24_13over37.LayerInfo, 2, seed: 61);
        // Key and value are longer than the output (37 rows against 13), so each can hold it.
        float[] q = x.Query, k = x.Key, v = x.Value;
        float[] kBefore = (float[])k.Clone(), vBefore = (float[])v.Clone(), qBefore = (float[])q.Clone();
        int n = x.Output.Length;
        var e = Assert.Throws<ArgumentException>(() =>
        {
            switch (overlap)
            {
                case "output=query": layer.Forward(q, k, v, q.AsSpan(0, n), 2); break;
                case "output=key": layer.Forward(q, k, v, k.AsSpan(0, n), 2); break;
                case "output=value": layer.Forward(q, k, v, v.AsSpan(0, n), 2); break;
                default: layer.Forward(q, k, v, k.AsSpan(k.Length - n - 5, n), 2); break;
            }
        });
        Assert.Equal("output", e.ParamName);
        string input = overlap.Contains("query", StringComparison.Ordinal) ? "query" : overlap.Contains("value", StringComparison.Ordinal) ? "value" : "key";
        Assert.Contains($"overlaps '{input}'", e.Message, StringComparison.Ordinal);
        Assert.Equal(qBefore, q);
        Assert.Equal(kBefore, k);
        Assert.Equal(vBefore, v);
    }

    [Fact]
    public void ForwardTrainInPlace_IsRejected_SoBackwardNeverSeesTheOutputAsItsInput()
    {
        using var layer = new SelfProj_4x24x37_m80();
        TestData.RandomParameters(layer, seed: 67);
        TestData.Inputs x = TestData.For(SelfProj_4x24x37_m80.LayerInfo, 2, seed: 71);
        float[] before = (float[])x.Query.Clone();

        var e = Assert.Throws<ArgumentException>(() => layer.ForwardTrain(x.Query, x.Query, 2));
        Assert.Equal("output", e.ParamName);
        Assert.StartsWith($"'output' ({x.Query.Length} floats) overlaps 'input' ({x.Query.Length} floats): 'input' starts 0 floats after the start of 'output'. A span the call writes must be memory of its own.", e.Message);
        Assert.Equal(before, x.Query);

        var e4 = Assert.Throws<ArgumentException>(() => layer.ForwardTrain(x.Query, x.Key, x.Value, x.Query, 2));
        Assert.Equal("output", e4.ParamName);
        Assert.Equal(before, x.Query);
    }

    [Fact]
    public void BackwardWritingOverItsOutputGradient_IsRejected()
    {
        using var layer = new SelfProj_4x24x37_m80();
        TestData.RandomParameters(layer, seed: 73);
        TestData.Inputs x = TestData.For(SelfProj_4x24x37_m80.LayerInfo, 2, seed: 79);
        layer.ForwardTrain(x.Query, x.Output, 2);
        float[] dy = TestData.Uniform(x.Output.Length, seed: 83);
        float[] before = (float[])dy.Clone();

        var e = Assert.Throws<ArgumentException>(() => layer.Backward(dy, dy, 2));
        Assert.Equal("inputGrad", e.ParamName);
        Assert.Contains("overlaps 'outputGrad'", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, dy);
    }

    public static TheoryData<string> GradientOverlaps() => new("keyGrad=valueGrad", "queryGrad=outputGrad", "valueGrad inside queryGrad");

    [Theory]
    [MemberData(nameof(GradientOverlaps))]
    public void BackwardGradientsSharingMemory_AreRejected(string overlap)
    {
        using var layer = new SelfProj_4x24x37_m80();
        TestData.RandomParameters(layer, seed: 89);
        TestData.Inputs x = TestData.For(SelfProj_4x24x37_m80.LayerInfo, 1, seed: 97);
        layer.ForwardTrain(x.Query, x.Key, x.Value, x.Output, 1);
        float[] dy = TestData.Uniform(x.Output.Length, seed: 101);
        float[] dq = new float[x.Query.Length], dk = new float[x.Key.Length], dv = new float[x.Value.Length];
        float[] big = new float[2 * dq.Length];

        var e = Assert.Throws<ArgumentException>(() =>
        {
            switch (overlap)
            {
                case "keyGrad=valueGrad": layer.Backward(dy, dq, dk, dk, 1); break;
                case "queryGrad=outputGrad": layer.Backward(dy, dy, dk, dv, 1); break;
                default: layer.Backward(dy, big.AsSpan(0, dq.Length), dk, big.AsSpan(dq.Length / 2, dv.Length), 1); break;
            }
        });
        Assert.Equal(overlap.StartsWith("keyGrad", StringComparison.Ordinal) || overlap.StartsWith("valueGrad", StringComparison.Ordinal) ? "valueGrad" : "queryGrad", e.ParamName);
    }

    // ---- Non-finite input ----

    public static TheoryData<string, KernelIsa, float> LayersPathsAndPoison()
    {
        var data = new TheoryData<string, KernelIsa, float>();
        foreach (string layer in TestLayers.All.Keys)
        {
            foreach (KernelIsa isa in KernelIsaSupport.Supported)
            {
                data.Add(layer, isa, float.NaN);
                data.Add(layer, isa, float.PositiveInfinity);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(LayersPathsAndPoison))]
    public void NonFiniteInputInOneSequence_PoisonsOnlyThatSequence(string layerName, KernelIsa isa, float poison)
    {
        using IAttentionLayer layer = TestLayers.Create(layerName);
        layer.Isa = isa;
        TestData.RandomParameters(layer, seed: 103);
        AttentionLayerInfo info = layer.Info;
        const int batch = 3;
        TestData.Inputs x = TestData.For(info, batch, seed: 107);
        layer.Forward(x.Query, x.Key, x.Value, x.Output, batch);
        float[] clean = (float[])x.Output.Clone();

        // The first element of sequence 1's last query row, and of its first key and value rows.
        int queryRow = info.QueryInputWidth, kvRow = info.KvInputWidth;
        x.Query[(info.SeqLen + info.SeqLen - 1) * queryRow] = poison;
        x.Key[info.KvSeqLen * kvRow] = poison;
        x.Value[info.KvSeqLen * kvRow] = poison;
        Array.Clear(x.Output);
        layer.Forward(x.Query, x.Key, x.Value, x.Output, batch);

        int sequence = info.SeqLen * info.ModelDim;
        Assert.Equal(clean.AsSpan(0, sequence).ToArray(), x.Output.AsSpan(0, sequence).ToArray());
        Assert.Equal(clean.AsSpan(2 * sequence).ToArray(), x.Output.AsSpan(2 * sequence).ToArray());
        Assert.Contains(x.Output.AsSpan(sequence, sequence).ToArray(), v => !float.IsFinite(v));
    }
}
