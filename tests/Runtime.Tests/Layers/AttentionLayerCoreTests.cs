using System.Runtime.InteropServices;
using AttnGen.Runtime.Tests.Support;

namespace AttnGen.Runtime.Tests.Layers;

/// <summary>
/// The contract of the runtime layer core (<see cref="AttentionLayer{TKernels}"/>), pinned with the hand-written
/// <see cref="FakeKernels{TShape}"/> instead of generated kernels: the batch driver, argument checks, the call gate,
/// ForwardTrain/Backward bookkeeping, Load/Save, Dispose and the paths a layer was built without. The fake kernels
/// log to static queues, so every test that reads them is in this one class (xunit runs a class's tests one at a time).
/// </summary>
public sealed class AttentionLayerCoreTests : IDisposable
{
    private const int S = 3, Kv = 4, W = FakeMath.Width;
    private const float A = 1.5f, B = -0.75f;

    public AttentionLayerCoreTests()
    {
        FakeKernels<CrossShape>.Reset();
        FakeKernels<SelfShape>.Reset();
        // Three workers may share a sequence even on a smaller machine, so the uneven splits run here too.
        SequenceSplit.MaxSharingWorkers = Math.Max(3, Environment.ProcessorCount);
    }

    public void Dispose()
    {
        FakeKernels<CrossShape>.Reset();
        FakeKernels<SelfShape>.Reset();
        SequenceSplit.MaxSharingWorkers = Environment.ProcessorCount;
    }

    private static FakeLayer NewLayer(int threads = 1)
    {
        var layer = new FakeLayer { MaxDegreeOfParallelism = threads };
        SetAB(layer, A, B);
        return layer;
    }

    private static void SetAB(IAttentionLayer layer, float a, float b)
    {
        Span<float> w = layer.GetParameter("in_proj_weight");
        w[0] = a;
        w[1] = b;
    }

    private static float[] Random(int length, ulong seed)
    {
        var values = new float[length];
        new SeededRandom(seed).FillUniform(values, -1f, 1f);
        return values;
    }

    private static float[] NaNs(int length) => Enumerable.Repeat(float.NaN, length).ToArray();

    private sealed record Batch(int Count, float[] Q, float[] K, float[] V, int[] ValidLengths)
    {
        public static Batch Create(int count, int[]? validLengths = null, ulong seed = 1)
            => new(count, Random(count * S * W, seed), Random(count * Kv * W, seed + 1), Random(count * Kv * W, seed + 2),
                validLengths ?? Enumerable.Repeat(Kv, count).ToArray());

        public double[] Expected(float a = A, float b = B) => FakeMath.Forward(Q, K, V, S, Kv, Count, ValidLengths, a, b);
    }

    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * (1 + Math.Abs(expected[i])), $"[{i}]: expected {expected[i]}, actual {actual[i]}");
        }
    }

    private static unsafe nint Address(float[] array, int offset)
    {
        fixed (float* p = array)
        {
            return (nint)(p + offset);
        }
    }

    // ---- Batch driver ----

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Forward_RunsEverySequenceOnce_WithItsValidLength_OnTheLayersPath(int threads)
    {
        using FakeLayer layer = NewLayer(threads);
        var batch = Batch.Create(5, [4, 0, 2, 3, 1]);
        float[] output = NaNs(5 * S * W);
        GCHandle pin = GCHandle.Alloc(batch.Q, GCHandleType.Pinned);
        try
        {
            layer.Forward(batch.Q, batch.K, batch.V, output, batch.Count, batch.ValidLengths);
            KernelCall[] calls = [.. FakeKernels<CrossShape>.ForwardCalls];
            nint first = Address(batch.Q, 0);
            int SequenceOf(KernelCall call) => (int)((call.Query - first) / sizeof(float)) / (S * W);
            foreach (KernelCall call in calls)
            {
                int b = SequenceOf(call);
                Assert.Equal(Address(batch.Q, b * S * W), call.Query);
                Assert.Equal(batch.ValidLengths[b], call.ValidLength);
                Assert.Equal(layer.Isa, call.Isa);
            }
            // Whole sequences while there are at least as many as threads (worker w takes w, w + threads, ...); the
            // sequences left are each shared by a team of workers, every part once, on threads of their own.
            (int Sequence, int Part, int Parts)[] expected = threads switch
            {
                1 => [(0, 0, 1), (1, 0, 1), (2, 0, 1), (3, 0, 1), (4, 0, 1)],
                2 => [(0, 0, 1), (1, 0, 1), (2, 0, 1), (3, 0, 1), (4, 0, 2), (4, 1, 2)],
                _ => [(0, 0, 1), (1, 0, 1), (2, 0, 1), (3, 0, 1), (4, 0, 2), (4, 1, 2)],
            };
            Assert.Equal(expected, calls.Select(c => (SequenceOf(c), c.Part, c.Parts)).Order());
            int[][] byThread = [.. calls.GroupBy(c => c.Thread).Select(g => g.Select(SequenceOf).Order().ToArray()).OrderBy(s => s[0]).ThenBy(s => s.Length)];
            int[][] expectedByThread = threads switch
            {
                1 => [[0, 1, 2, 3, 4]],
                2 => [[0, 2, 4], [1, 3, 4]],
                _ => [[0, 3], [1, 4], [2, 4]],
            };
            Assert.Equal(expectedByThread, byThread);
            // The parts of a shared sequence use the first part's scratch for the sequence and their own for their tiles.
            KernelCall[] shared = [.. calls.Where(c => c.Parts > 1).OrderBy(c => c.Part)];
            Assert.Equal(threads == 1 ? 0 : 2, shared.Length);
            Assert.All(shared, c => Assert.Equal(shared[0].Scratch, c.Scratch));
            Assert.All(shared, c => Assert.Equal(c.Part == 0, c.Tiles == c.Scratch));
            Assert.Equal(shared.Length, shared.Select(c => c.Tiles).Distinct().Count());
        }
        finally
        {
            pin.Free();
        }
        AssertClose(batch.Expected(), output);
        Assert.Single(FakeKernels<CrossShape>.PackCalls, layer.Isa);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Forward_OneSequence_IsSharedByEveryThread_EvenInPlace(int threads)
    {
        using var layer = new FakeSelfLayer { MaxDegreeOfParallelism = threads };
        SetAB(layer, A, B);
        float[] x = Random(S * W, 31);
        double[] expected = FakeMath.Forward(x, x, x, S, S, 1, [S], A, B);
        float[] inPlace = (float[])x.Clone();
        layer.Forward(inPlace, inPlace);
        AssertClose(expected, inPlace);
        KernelCall[] calls = [.. FakeKernels<SelfShape>.ForwardCalls];
        Assert.Equal(Enumerable.Range(0, threads), calls.Select(c => c.Part).Order());
        Assert.All(calls, c => Assert.Equal(threads, c.Parts));
        Assert.Equal(threads, calls.Select(c => c.Thread).Distinct().Count());
    }

    [Fact]
    public void Forward_SharesASequenceAmongNoMoreWorkersThanProcessors_AndAboveThatRunsSequencesWhole()
    {
        // Workers of a shared sequence meet between phases, so all must run at once: no more than the limit (the
        // processor count by default) share one, whatever MaxDegreeOfParallelism says.
        SequenceSplit.MaxSharingWorkers = 2;
        using FakeLayer layer = NewLayer(8);
        var one = Batch.Create(1);
        float[] output = NaNs(S * W);
        layer.Forward(one.Q, one.K, one.V, output);
        AssertClose(one.Expected(), output);
        Assert.Equal([(0, 2), (1, 2)], FakeKernels<CrossShape>.ForwardCalls.Select(c => (c.Part, c.Parts)).Order());

        // Batch 9 on 8 threads: 8 whole sequences, and the ninth whole too (8 workers are more than may share it).
        FakeKernels<CrossShape>.ForwardCalls.Clear();
        var nine = Batch.Create(9);
        float[] outputs = NaNs(9 * S * W);
        layer.Forward(nine.Q, nine.K, nine.V, outputs, 9);
        AssertClose(nine.Expected(), outputs);
        Assert.Equal(9, FakeKernels<CrossShape>.ForwardCalls.Count);
        Assert.All(FakeKernels<CrossShape>.ForwardCalls, c => Assert.Equal(1, c.Parts));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Forward_AFailureInOnePartOfASharedSequence_SurfacesOnce_AndTheLayerRunsAgain(int failingPart)
    {
        using FakeLayer layer = NewLayer(2);
        var batch = Batch.Create(1);
        float[] output = NaNs(S * W);
        FakeKernels<CrossShape>.OnSplitPhase = part =>
        {
            if (part == failingPart)
            {
                throw new InvalidOperationException($"part {part} failed");
            }
        };
        var e = Assert.Throws<InvalidOperationException>(() => layer.Forward(batch.Q, batch.K, batch.V, output));
        Assert.Equal($"part {failingPart} failed", e.Message);
        Assert.Null(e.InnerException);

        FakeKernels<CrossShape>.OnSplitPhase = null;
        layer.Forward(batch.Q, batch.K, batch.V, output);
        AssertClose(batch.Expected(), output);
    }

    [Fact]
    public void Forward_AWorkerFailingBeforeItJoinsItsTeam_ReleasesTheTeam_AndTheFailureSurfaces()
    {
        // Batch 3 on 2 threads: worker 1 fails on its whole sequence (1), so it never reaches its part of sequence 2,
        // where worker 0 would otherwise wait for it forever.
        using FakeLayer layer = NewLayer(2);
        var batch = Batch.Create(3);
        float[] output = NaNs(3 * S * W);
        GCHandle pin = GCHandle.Alloc(batch.Q, GCHandleType.Pinned);
        try
        {
            nint failing = Address(batch.Q, S * W);
            FakeKernels<CrossShape>.OnForward = query =>
            {
                if (query == failing)
                {
                    throw new InvalidOperationException("sequence 1 failed");
                }
            };
            var e = Assert.Throws<InvalidOperationException>(() => layer.Forward(batch.Q, batch.K, batch.V, output, 3));
            Assert.Equal("sequence 1 failed", e.Message);
        }
        finally
        {
            pin.Free();
        }
        FakeKernels<CrossShape>.OnForward = null;
        layer.Forward(batch.Q, batch.K, batch.V, output, 3);
        AssertClose(batch.Expected(), output);
    }

    [Fact]
    public void Forward_GivesTheSameResult_OnOneAndTwoThreads_AndAllKeysWithoutValidLengths()
    {
        var batch = Batch.Create(4);
        float[] one = new float[4 * S * W], two = new float[4 * S * W];
        using (FakeLayer layer = NewLayer(1))
        {
            layer.Forward(batch.Q, batch.K, batch.V, one, batch.Count);
        }
        using (FakeLayer layer = NewLayer(2))
        {
            layer.Forward(batch.Q, batch.K, batch.V, two, batch.Count);
        }
        Assert.Equal(one, two);
        Assert.All(FakeKernels<CrossShape>.ForwardCalls, c => Assert.Equal(Kv, c.ValidLength));
        AssertClose(batch.Expected(), one);
    }

    [Fact]
    public void Forward_PacksTheWeightsOnce_AndAgainAfterEveryChange()
    {
        using FakeLayer layer = NewLayer();
        var batch = Batch.Create(1);
        float[] output = new float[S * W];
        layer.Forward(batch.Q, batch.K, batch.V, output);
        layer.Forward(batch.Q, batch.K, batch.V, output);
        Assert.Single(FakeKernels<CrossShape>.PackCalls);

        SetAB(layer, 2f, B); // through GetParameter
        layer.Forward(batch.Q, batch.K, batch.V, output);
        AssertClose(batch.Expected(a: 2f), output);

        Span<float> held = layer.ParameterBlock;
        layer.Forward(batch.Q, batch.K, batch.V, output);
        held[0] = -3f; // a write through a span taken before the last Forward needs ParametersChanged
        layer.ParametersChanged();
        layer.Forward(batch.Q, batch.K, batch.V, output);
        AssertClose(batch.Expected(a: -3f), output);

        layer.Isa = KernelIsa.Scalar;
        layer.Forward(batch.Q, batch.K, batch.V, output);
        Assert.Equal(KernelIsa.Scalar, FakeKernels<CrossShape>.PackCalls.Last());
        Assert.Equal(5, FakeKernels<CrossShape>.PackCalls.Count);
        Assert.Equal(KernelIsa.Scalar, FakeKernels<CrossShape>.ForwardCalls.Last().Isa);
    }

    // ---- Argument checks ----

    [Theory]
    [InlineData(-1, "'validLengths[1]' is -1; expected a valid length in 0..4.")]
    [InlineData(Kv + 1, "'validLengths[1]' is 5; expected a valid length in 0..4.")]
    public void Forward_ValidLengthOutOfRange_ThrowsNamingIt_AndWritesNothing(int bad, string message)
    {
        using FakeLayer layer = NewLayer();
        var batch = Batch.Create(2);
        float[] output = NaNs(2 * S * W);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(batch.Q, batch.K, batch.V, output, 2, [Kv, bad]));
        Assert.Equal("validLengths", e.ParamName);
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
        Assert.All(output, y => Assert.True(float.IsNaN(y)));
        Assert.Empty(FakeKernels<CrossShape>.ForwardCalls);

        var count = Assert.Throws<ArgumentException>(() => layer.Forward(batch.Q, batch.K, batch.V, output, 2, [Kv]));
        Assert.Equal("validLengths", count.ParamName);
        Assert.Contains("has length 1; expected 2", count.Message, StringComparison.Ordinal);

        // Both ends of the range are valid.
        layer.Forward(batch.Q, batch.K, batch.V, output, 2, [0, Kv]);
        Assert.Equal([0, Kv], FakeKernels<CrossShape>.ForwardCalls.Select(c => c.ValidLength).Order());
    }

    [Theory]
    [InlineData("query", 2 * S * W, "batch 2 x 3 rows x 2 columns")]
    [InlineData("key", 2 * Kv * W, "batch 2 x 4 rows x 2 columns")]
    [InlineData("value", 2 * Kv * W, "batch 2 x 4 rows x 2 columns")]
    [InlineData("output", 2 * S * W, "batch 2 x 3 rows x 2 columns")]
    public void Forward_SpanOfWrongLength_ThrowsNamingIt_AndWritesNothing(string argument, int expected, string shape)
    {
        using FakeLayer layer = NewLayer();
        var batch = Batch.Create(2);
        float[] q = argument == "query" ? new float[expected + 1] : batch.Q;
        float[] k = argument == "key" ? new float[expected - 1] : batch.K;
        float[] v = argument == "value" ? new float[expected + W] : batch.V;
        float[] output = NaNs(argument == "output" ? expected - 1 : 2 * S * W);
        int actual = argument switch { "query" => q.Length, "key" => k.Length, "value" => v.Length, _ => output.Length };
        foreach (Action call in new Action[] { () => layer.Forward(q, k, v, output, 2), () => layer.ForwardTrain(q, k, v, output, 2) })
        {
            var e = Assert.Throws<ArgumentException>(call);
            Assert.Equal(argument, e.ParamName);
            Assert.StartsWith($"'{argument}' has length {actual}; expected {expected} = {shape}.", e.Message, StringComparison.Ordinal);
        }
        Assert.All(output, y => Assert.True(float.IsNaN(y)));
        Assert.Empty(FakeKernels<CrossShape>.ForwardCalls);
        Assert.Empty(FakeKernels<CrossShape>.PackCalls);
    }

    [Fact]
    public void Forward_BatchBelowOne_OrOutputOverlappingAnInput_Throws_AndWritesNothing()
    {
        using FakeLayer layer = NewLayer();
        var batch = Batch.Create(1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => layer.Forward(batch.Q, batch.K, batch.V, new float[0], 0));
        Assert.Equal("batch", e.ParamName);

        float[] shared = NaNs(Kv * W + S * W);
        var overlap = Assert.Throws<ArgumentException>(() => layer.Forward(batch.Q, shared.AsSpan(0, Kv * W), batch.V, shared.AsSpan(W, S * W), 1));
        Assert.Equal("output", overlap.ParamName);
        Assert.All(shared, y => Assert.True(float.IsNaN(y)));
        Assert.Empty(FakeKernels<CrossShape>.ForwardCalls);
    }

    // ---- One call at a time ----

    [Fact]
    public async Task ACallWhileAnotherRunsOnTheSameInstance_Throws_OtherInstancesAndLaterCallsRun()
    {
        using FakeLayer layer = NewLayer();
        using FakeLayer other = NewLayer();
        var batch = Batch.Create(1);
        float[] blockedQuery = (float[])batch.Q.Clone();
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        GCHandle pin = GCHandle.Alloc(blockedQuery, GCHandleType.Pinned);
        try
        {
            nint blocked = pin.AddrOfPinnedObject();
            FakeKernels<CrossShape>.OnForward = query =>
            {
                if (query == blocked)
                {
                    entered.Set();
                    release.Wait(TimeSpan.FromSeconds(30));
                }
            };
            float[] first = new float[S * W];
            CancellationToken cancel = TestContext.Current.CancellationToken;
            Task running = Task.Run(() => layer.Forward(blockedQuery, batch.K, batch.V, first), cancel);
            Assert.True(entered.Wait(TimeSpan.FromSeconds(30), cancel), "the first Forward never reached its kernel");

            float[] output = NaNs(S * W);
            using var files = new TempDirectory();
            var calls = new (string Name, Action Call)[]
            {
                ("Forward", () => layer.Forward(batch.Q, batch.K, batch.V, output)),
                ("ForwardTrain", () => layer.ForwardTrain(batch.Q, batch.K, batch.V, output, 1)),
                ("Backward", () => layer.Backward(new float[S * W], new float[S * W], new float[Kv * W], new float[Kv * W], 1)),
                ("Load", () => layer.Load(files.File("absent.safetensors"))),
            };
            foreach ((string name, Action call) in calls)
            {
                var e = Assert.Throws<InvalidOperationException>(call);
                Assert.StartsWith($"{name} was called on a FakeLayer instance while Forward is still running on it.", e.Message, StringComparison.Ordinal);
            }
            Assert.All(output, y => Assert.True(float.IsNaN(y)));

            other.Forward(batch.Q, batch.K, batch.V, output); // another instance is not blocked
            AssertClose(batch.Expected(), output);

            release.Set();
            await running.WaitAsync(TimeSpan.FromSeconds(30), cancel);
            AssertClose(batch.Expected(), first);
            output.AsSpan().Fill(float.NaN);
            layer.Forward(batch.Q, batch.K, batch.V, output);
            AssertClose(batch.Expected(), output);
        }
        finally
        {
            release.Set();
            pin.Free();
        }
    }

    // ---- Training ----

    private sealed record Gradients(float[] Dq, float[] Dk, float[] Dv)
    {
        public static Gradients Filled(int batch, float value)
            => new(Enumerable.Repeat(value, batch * S * W).ToArray(), Enumerable.Repeat(value, batch * Kv * W).ToArray(), Enumerable.Repeat(value, batch * Kv * W).ToArray());
    }

    private static Gradients Backward(FakeLayer layer, float[] dy, int batch, int[]? validLengths = null)
    {
        var g = Gradients.Filled(batch, 7f); // overwritten, never added to
        layer.Backward(dy, g.Dq, g.Dk, g.Dv, batch, validLengths);
        return g;
    }

    [Fact]
    public void Backward_WithoutForwardTrain_Throws()
    {
        using FakeLayer layer = NewLayer();
        var batch = Batch.Create(1);
        float[] dy = Random(S * W, 9);
        var e = Assert.Throws<InvalidOperationException>(() => Backward(layer, dy, 1));
        Assert.Contains("call ForwardTrain first", e.Message, StringComparison.Ordinal);

        layer.Forward(batch.Q, batch.K, batch.V, new float[S * W]); // Forward keeps no state
        Assert.Throws<InvalidOperationException>(() => Backward(layer, dy, 1));
        Assert.Empty(FakeKernels<CrossShape>.BackwardCalls);
        Assert.All(layer.GradientBlock.ToArray(), g => Assert.Equal(0f, g));
    }

    [Fact]
    public void Backward_WithAnotherBatchOrOtherValidLengths_ThrowsNamingIt_AndWritesNothing()
    {
        using FakeLayer layer = NewLayer();
        var first = Batch.Create(2, [1, 2]);
        layer.ForwardTrain(first.Q, first.K, first.V, new float[2 * S * W], 2, first.ValidLengths);
        var last = Batch.Create(3, [4, 3, 2]);
        layer.ForwardTrain(last.Q, last.K, last.V, new float[3 * S * W], 3, last.ValidLengths);

        var g = Gradients.Filled(2, float.NaN);
        var e = Assert.Throws<ArgumentException>(() => layer.Backward(Random(2 * S * W, 3), g.Dq, g.Dk, g.Dv, 2, first.ValidLengths));
        Assert.Equal("batch", e.ParamName);
        Assert.Equal("'batch' is 2; the last ForwardTrain had batch 3. (Parameter 'batch')", e.Message);

        float[] dy = Random(3 * S * W, 4);
        var h = Gradients.Filled(3, float.NaN);
        foreach (int[]? other in new int[]?[] { [4, 3, 1], null })
        {
            var v = Assert.Throws<ArgumentException>(() => layer.Backward(dy, h.Dq, h.Dk, h.Dv, 3, other));
            Assert.Equal("validLengths", v.ParamName);
        }
        foreach ((string name, Action call) in new (string, Action)[]
        {
            ("outputGrad", () => layer.Backward(dy.AsSpan(1), h.Dq, h.Dk, h.Dv, 3, last.ValidLengths)),
            ("queryGrad", () => layer.Backward(dy, h.Dq.AsSpan(1), h.Dk, h.Dv, 3, last.ValidLengths)),
            ("keyGrad", () => layer.Backward(dy, h.Dq, h.Dk.AsSpan(1), h.Dv, 3, last.ValidLengths)),
            ("valueGrad", () => layer.Backward(dy, h.Dq, h.Dk, h.Dv.AsSpan(1), 3, last.ValidLengths)),
            ("valueGrad", () => layer.Backward(dy, h.Dq, h.Dv, h.Dv, 3, last.ValidLengths)),
        })
        {
            Assert.Equal(name, Assert.Throws<ArgumentException>(call).ParamName);
        }
        Assert.All(g.Dq.Concat(g.Dk).Concat(g.Dv).Concat(h.Dq).Concat(h.Dk).Concat(h.Dv), x => Assert.True(float.IsNaN(x)));
        Assert.Empty(FakeKernels<CrossShape>.BackwardCalls);
        Assert.All(layer.GradientBlock.ToArray(), x => Assert.Equal(0f, x));

        Backward(layer, dy, 3, last.ValidLengths); // the last ForwardTrain's batch is the one Backward takes
        Assert.Equal(3, FakeKernels<CrossShape>.BackwardCalls.Count);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Backward_WritesInputGradients_AddsParameterGradients_FromEachSequencesSavedState(int threads)
    {
        using FakeLayer layer = NewLayer(threads);
        var batch = Batch.Create(3, [2, 4, 0]);
        float[] output = new float[3 * S * W];
        layer.ForwardTrain(batch.Q, batch.K, batch.V, output, 3, batch.ValidLengths);
        AssertClose(batch.Expected(), output);
        float[] dy = Random(3 * S * W, 5);

        Gradients g = Backward(layer, dy, 3, batch.ValidLengths);
        var expected = FakeMath.Backward(batch.Q, batch.K, dy, S, Kv, 3, batch.ValidLengths, A, B);
        AssertClose(expected.Dq, g.Dq);
        AssertClose(expected.Dk, g.Dk);
        AssertClose(expected.Dv, g.Dv);
        float[] once = layer.GradientBlock.ToArray();
        Assert.Equal(expected.Da, once[0], 4);
        Assert.Equal(expected.Db, once[1], 4);
        // The saved output, the row log-sum-exps and the forward scratch are each sequence's own.
        Assert.Equal(output.Zip(dy, (y, d) => (double)y * d).Sum(), once[FakeMath.OutputDotGradient], 4);
        Assert.Equal(batch.ValidLengths.Sum(), once[FakeMath.ValidLengthGradient]);
        Assert.Equal(batch.ValidLengths.Sum(v => Enumerable.Range(0, S).Sum(i => FakeMath.Lse(i, v))), once[FakeMath.LseGradient]);
        Assert.All(FakeKernels<CrossShape>.BackwardCalls, c => Assert.Equal(layer.Isa, c.Isa));
        Assert.Equal(layer.Isa, ((IKernelPathReport)layer).LastBackwardIsa);
        Assert.Equal(threads, FakeKernels<CrossShape>.BackwardCalls.Select(c => c.Thread).Distinct().Count());

        // A second Backward of the same ForwardTrain: input gradients overwritten, parameter gradients added.
        Gradients again = Backward(layer, dy, 3, batch.ValidLengths);
        Assert.Equal(g.Dq, again.Dq);
        Assert.Equal(g.Dk, again.Dk);
        Assert.Equal(g.Dv, again.Dv);
        Assert.Equal(once.Select(x => 2 * x), layer.GradientBlock.ToArray(), (x, y) => Math.Abs(x - y) <= 1e-5f * (1 + Math.Abs(x)));

        layer.ZeroGradients();
        Assert.All(layer.GradientBlock.ToArray(), x => Assert.Equal(0f, x));
        Backward(layer, dy, 3, batch.ValidLengths);
        Assert.Equal(once, layer.GradientBlock.ToArray(), (x, y) => Math.Abs(x - y) <= 1e-5f * (1 + Math.Abs(x)));
    }

    [Theory]
    [InlineData(2, 2)] // whole sequences only
    [InlineData(2, 3)] // two whole, then the third shared by both
    [InlineData(3, 5)]
    public void Backward_WorkersSummingTheirSlicesOfTheGradientBlocks_GiveTheCallersSum(int threads, int count)
    {
        using FakeLayer layer = NewLayer(threads);
        var batch = Batch.Create(count);
        layer.ForwardTrain(batch.Q, batch.K, batch.V, new float[count * S * W], count);
        float[] dy = Random(count * S * W, 5);
        float[] Gradients(int sharedFrom)
        {
            GradientReduction.SharedFromFloats = sharedFrom;
            layer.ZeroGradients();
            Backward(layer, dy, count);
            return layer.GradientBlock.ToArray();
        }

        try
        {
            float[] caller = Gradients(int.MaxValue);
            float[] workers = Gradients(0);
            int same = caller.AsSpan().CommonPrefixLength(workers);
            Assert.True(same == caller.Length, $"gradient {same}: {(same < workers.Length ? workers[same] : float.NaN)} summed by the workers, {(same < caller.Length ? caller[same] : float.NaN)} by the caller");
            var expected = FakeMath.Backward(batch.Q, batch.K, dy, S, Kv, count, batch.ValidLengths, A, B);
            Assert.Equal(expected.Da, workers[0], 4);
            Assert.Equal(expected.Db, workers[1], 4);
        }
        finally
        {
            GradientReduction.SharedFromFloats = 1 << 16;
        }
    }

    [Fact]
    public void Backward_AWorkerFailingBeforeTheGradientSum_ReleasesTheOthers_AndTheFailureSurfaces()
    {
        // Batch 2 on 2 threads with the workers summing the gradient blocks: worker 1 fails on its sequence (1), so it
        // never reaches the sum, where worker 0 would otherwise wait for it forever.
        using FakeLayer layer = NewLayer(2);
        var batch = Batch.Create(2);
        layer.ForwardTrain(batch.Q, batch.K, batch.V, new float[2 * S * W], 2);
        float[] dy = Random(2 * S * W, 5);
        GCHandle pin = GCHandle.Alloc(dy, GCHandleType.Pinned);
        GradientReduction.SharedFromFloats = 0;
        try
        {
            nint failing = Address(dy, S * W);
            FakeKernels<CrossShape>.OnBackward = outputGrad =>
            {
                if (outputGrad == failing)
                {
                    throw new InvalidOperationException("sequence 1 failed");
                }
            };
            var e = Assert.Throws<InvalidOperationException>(() => Backward(layer, dy, 2));
            Assert.Equal("sequence 1 failed", e.Message);

            FakeKernels<CrossShape>.OnBackward = null;
            layer.ZeroGradients();
            Gradients g = Backward(layer, dy, 2);
            var expected = FakeMath.Backward(batch.Q, batch.K, dy, S, Kv, 2, batch.ValidLengths, A, B);
            AssertClose(expected.Dq, g.Dq);
            Assert.Equal(expected.Da, layer.GradientBlock[0], 4);
        }
        finally
        {
            GradientReduction.SharedFromFloats = 1 << 16;
            pin.Free();
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Training_OneSequence_IsSharedByEveryThread_InOneWorkAreaWithATileAreaEach(int threads)
    {
        using FakeLayer layer = NewLayer(threads);
        var batch = Batch.Create(1, [3]);
        float[] output = NaNs(S * W);
        layer.ForwardTrain(batch.Q, batch.K, batch.V, output, 1, batch.ValidLengths);
        AssertClose(batch.Expected(), output);
        KernelCall[] forward = [.. FakeKernels<CrossShape>.ForwardCalls];
        Assert.Equal(Enumerable.Range(0, threads), forward.Select(c => c.Part).Order());
        Assert.Equal(threads, forward.Select(c => c.Thread).Distinct().Count());
        Assert.Single(forward.Select(c => c.Scratch).Distinct()); // the sequence's saved state
        Assert.Equal(threads, forward.Select(c => c.Tiles).Distinct().Count());

        float[] dy = Random(S * W, 13);
        Gradients g = Backward(layer, dy, 1, batch.ValidLengths);
        var expected = FakeMath.Backward(batch.Q, batch.K, dy, S, Kv, 1, batch.ValidLengths, A, B);
        AssertClose(expected.Dq, g.Dq);
        AssertClose(expected.Dk, g.Dk);
        AssertClose(expected.Dv, g.Dv);
        Assert.Equal(expected.Da, layer.GradientBlock[0], 4);
        Assert.Equal(expected.Db, layer.GradientBlock[1], 4);
        // The saved output is whole although every part copied only its rows.
        Assert.Equal(output.Zip(dy, (y, d) => (double)y * d).Sum(), layer.GradientBlock[FakeMath.OutputDotGradient], 4);
        KernelCall[] backward = [.. FakeKernels<CrossShape>.BackwardCalls];
        Assert.Equal(Enumerable.Range(0, threads), backward.Select(c => c.Part).Order());
        Assert.All(backward, c => Assert.Equal(threads, c.Parts));
        Assert.Equal(threads, backward.Select(c => c.Thread).Distinct().Count());
        Assert.Single(backward.Select(c => c.Scratch).Distinct()); // the team's work area
        Assert.Equal(threads, backward.Select(c => c.Tiles).Distinct().Count());
    }

    // ---- Self-attention overloads ----

    [Fact]
    public void SelfAttention_RunsInPlace_AndItsInputGradientSumsTheThreeUses()
    {
        using var layer = new FakeSelfLayer { MaxDegreeOfParallelism = 2 };
        SetAB(layer, A, B);
        float[] x = Random(2 * S * W, 11);
        int[] valid = [3, 1];
        double[] expected = FakeMath.Forward(x, x, x, S, S, 2, valid, A, B);
        float[] output = new float[x.Length];
        layer.Forward(x, output, 2, valid);
        AssertClose(expected, output);
        float[] inPlace = (float[])x.Clone();
        layer.Forward(inPlace, inPlace, 2, valid);
        Assert.Equal(output, inPlace);

        layer.ForwardTrain(x, output, 2, valid);
        float[] dy = Random(x.Length, 12), dx = NaNs(x.Length);
        layer.Backward(dy, dx, 2, valid);
        var g = FakeMath.Backward(x, x, dy, S, S, 2, valid, A, B);
        AssertClose(g.Dq.Select((d, i) => d + g.Dk[i] + g.Dv[i]).ToArray(), dx);
        Assert.Equal(g.Da + g.Db, layer.GradientBlock[0] + layer.GradientBlock[1], 4);

        var e = Assert.Throws<ArgumentException>(() => layer.ForwardTrain(x, x, 2, valid));
        Assert.Equal("output", e.ParamName);
    }

    // ---- Load and Save ----

    [Fact]
    public void SaveThenLoad_RoundTripsTheParameters_AndTheNextForwardUsesThem()
    {
        using var files = new TempDirectory();
        string path = files.File("layer.safetensors");
        using FakeLayer saved = NewLayer();
        new SeededRandom(21).FillUniform(saved.ParameterBlock, -1f, 1f);
        saved.Save(path, "enc.0.", new Dictionary<string, string> { ["note"] = "fake" });

        using FakeLayer loaded = NewLayer();
        var batch = Batch.Create(1);
        float[] output = new float[S * W];
        loaded.Forward(batch.Q, batch.K, batch.V, output); // packs A
        loaded.Load(path, "enc.0.");
        float[] original = saved.ParameterBlock.ToArray();
        foreach (LayerParameter p in loaded.Parameters)
        {
            Assert.Equal(original.AsSpan(p.Offset, p.Length).ToArray(), loaded.GetParameter(p.Name).ToArray());
        }
        loaded.Forward(batch.Q, batch.K, batch.V, output);
        AssertClose(batch.Expected(original[0], original[1]), output);
        Assert.Equal(2, FakeKernels<CrossShape>.PackCalls.Count);

        Assert.Throws<CheckpointMismatchException>(() => loaded.Load(path, "dec.0."));
        Assert.Equal(original[0], loaded.ParameterBlock[0]);
    }

    // ---- Dispose ----

    [Fact]
    public void EveryCallAfterDispose_ThrowsObjectDisposedException()
    {
        using var files = new TempDirectory();
        var layer = NewLayer();
        var batch = Batch.Create(1);
        layer.ForwardTrain(batch.Q, batch.K, batch.V, new float[S * W], 1);
        layer.Dispose();
        layer.Dispose(); // twice is harmless
        float[] output = NaNs(S * W);
        foreach (Action call in new Action[]
        {
            () => layer.Forward(batch.Q, batch.K, batch.V, output),
            () => layer.ForwardTrain(batch.Q, batch.K, batch.V, output, 1),
            () => Backward(layer, new float[S * W], 1),
            () => layer.Save(files.File("x.safetensors")),
            () => layer.Load(files.File("x.safetensors")),
        })
        {
            Assert.Throws<ObjectDisposedException>(call);
        }
        Assert.All(output, y => Assert.True(float.IsNaN(y)));
        Assert.False(File.Exists(files.File("x.safetensors")));

        var self = new FakeSelfLayer();
        self.Dispose();
        Assert.Throws<ObjectDisposedException>(() => self.Forward(new float[S * W], new float[S * W]));
    }

    // ---- Paths ----

    [Fact]
    public void DefaultPath_IsTheWidestSupportedAmongThoseGenerated()
    {
        using FakeLayer layer = NewLayer();
        KernelIsa expected = KernelIsaSupport.Supported.Where(FakeKernels<CrossShape>.HasKernels).Max();
        Assert.Equal(expected, layer.Isa);
        Assert.NotEqual(FakeKernels<CrossShape>.Missing, layer.Isa);
    }

    [Fact]
    public void APathWhoseKernelsWereNotGenerated_ThrowsSayingSo_AndKeepsThePath()
    {
        KernelIsa missing = FakeKernels<CrossShape>.Missing;
        if (!KernelIsaSupport.IsSupported(missing))
        {
            Assert.Skip($"This process cannot run {missing}, so asking for it fails on support before the generated-kernels check.");
        }
        using FakeLayer layer = NewLayer();
        KernelIsa before = layer.Isa;
        var e = Assert.Throws<NotSupportedException>(() => layer.Isa = missing);
        Assert.StartsWith($"FakeLayer has no {missing} kernels: the project was built with AttnGenInstructionSets set to leave them out. " +
            "Generated paths: Avx512, Avx2, Scalar.", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, layer.Isa);
        layer.Forward(new float[S * W], new float[Kv * W], new float[Kv * W], new float[S * W]);
        Assert.Equal(before, FakeKernels<CrossShape>.ForwardCalls.Single().Isa);
    }
}
