namespace AttnGen.Runtime.Tests.Validation;

/// <summary>The gate a layer takes for each call: a second call while one runs throws, and the first is unaffected.</summary>
public sealed class CallGateTests
{
    private sealed class Owner
    {
        public CallGate Gate;
    }

    [Fact]
    public void ASecondEnter_WhileTheFirstRuns_ThrowsNamingBoth()
    {
        var owner = new Owner();
        using (owner.Gate.Enter(owner, "Forward"))
        {
            var e = Assert.Throws<InvalidOperationException>(() => owner.Gate.Enter(owner, "Backward"));
            Assert.StartsWith("Backward was called on a Owner instance while Forward is still running on it. A layer instance runs one call at a time", e.Message, StringComparison.Ordinal);
            Assert.Equal("Forward", owner.Gate.Running);
        }
        Assert.Null(owner.Gate.Running);
        using (owner.Gate.Enter(owner, "Backward"))
        {
            Assert.Equal("Backward", owner.Gate.Running);
        }
    }

    [Fact]
    public void AnExceptionInsideTheCall_ReleasesTheGate()
    {
        var owner = new Owner();
        void Call()
        {
            using CallGate.Scope scope = owner.Gate.Enter(owner, "Forward");
            throw new ArgumentException("bad argument");
        }
        Assert.Throws<ArgumentException>(Call);
        Assert.Null(owner.Gate.Running);
    }

    [Fact]
    public void TwoThreads_NeverHoldTheGateTogether()
    {
        var owner = new Owner();
        int inside = 0, overlaps = 0, refused = 0;
        using var start = new Barrier(2);
        void Run()
        {
            start.SignalAndWait();
            for (int i = 0; i < 100_000; i++)
            {
                try
                {
                    using (owner.Gate.Enter(owner, "Forward"))
                    {
                        if (Interlocked.Increment(ref inside) != 1)
                        {
                            Interlocked.Increment(ref overlaps);
                        }
                        Interlocked.Decrement(ref inside);
                    }
                }
                catch (InvalidOperationException)
                {
                    Interlocked.Increment(ref refused);
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
        Assert.Equal(0, overlaps);
        Assert.Null(owner.Gate.Running);
    }
}
