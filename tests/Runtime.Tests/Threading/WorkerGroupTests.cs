namespace AttnGen.Runtime.Tests.Threading;

/// <summary>The batch driver's worker group: every index runs once per call, failures surface, and a caller that has to block allocates nothing.</summary>
public class WorkerGroupTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void Run_CallsTheBodyOnceForEveryIndex(int workers)
    {
        var counts = new int[workers];
        var group = new WorkerGroup(i => Interlocked.Increment(ref counts[i]));
        for (int call = 1; call <= 3; call++)
        {
            group.Run(workers);
            Assert.All(counts, c => Assert.Equal(call, c));
        }
    }

    [Fact]
    public void Run_RethrowsAWorkersFailureAfterEveryWorkerIsDone()
    {
        int finished = 0;
        var group = new WorkerGroup(i =>
        {
            if (i == 1)
            {
                throw new InvalidOperationException("worker 1");
            }
            Thread.Sleep(20);
            Interlocked.Increment(ref finished);
        });
        var e = Assert.Throws<InvalidOperationException>(() => group.Run(3));
        Assert.Equal("worker 1", e.Message);
        Assert.Equal(2, Volatile.Read(ref finished));
    }

    [Fact]
    public void Run_WhenTheCallerFirstHasToBlock_AllocatesNothing()
    {
        // The warm-up call returns without blocking (worker 1 has nothing to do); in the measured calls worker 1
        // sleeps far longer than the caller spins, so the caller blocks for the first time in the steady state.
        bool slow = false;
        var group = new WorkerGroup(i =>
        {
            if (i == 1 && Volatile.Read(ref slow))
            {
                Thread.Sleep(30);
            }
        });
        group.Run(1);
        group.Run(2);
        Volatile.Write(ref slow, true);
        long before = GC.GetAllocatedBytesForCurrentThread();
        group.Run(2);
        group.Run(2);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
