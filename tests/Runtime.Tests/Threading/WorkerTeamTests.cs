using System.Collections.Concurrent;

namespace AttnGen.Runtime.Tests.Threading;

/// <summary>
/// The process's worker threads that layer calls share: every index runs once, index 0 on the caller and the others on
/// the team's own threads; a busy or too small team declines without running anything; a failure surfaces and the team
/// runs again; workers that went to sleep between calls are woken. Each test makes its own team (the layers' shared one
/// is left alone), and every wait is bounded so a broken team fails the test instead of hanging the run.
/// </summary>
public class WorkerTeamTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    // Runs TryRun on another thread and waits for it at most Patience; a failure of the call is rethrown as the inner
    // exception of an InvalidOperationException.
    private static bool RunBounded(WorkerTeam team, Action<int> body, int workers) => RunBounded(team, body, workers, out _);

    private static bool RunBounded(WorkerTeam team, Action<int> body, int workers, out int callerThread)
    {
        bool ran = false;
        int id = 0;
        Exception? failure = null;
        var caller = new Thread(() =>
        {
            id = Environment.CurrentManagedThreadId;
            try
            {
                ran = team.TryRun(body, workers);
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        caller.IsBackground = true; // a call that never returns must not keep the test run alive
        caller.Start();
        Assert.True(caller.Join(Patience), "the team never finished the call");
        callerThread = id;
        if (failure is not null)
        {
            throw new InvalidOperationException("the call failed", failure);
        }
        return ran;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public void EveryIndexRunsOnce_IndexZeroOnTheCaller_TheOthersOnDistinctTeamThreads(int workers)
    {
        var team = new WorkerTeam(3);
        for (int call = 0; call < 50; call++)
        {
            var ran = new ConcurrentDictionary<int, int>();
            Assert.True(RunBounded(team, i => Assert.True(ran.TryAdd(i, Environment.CurrentManagedThreadId), $"index {i} ran twice"), workers, out int caller));
            Assert.Equal(Enumerable.Range(0, workers), ran.Keys.Order());
            Assert.Equal(caller, ran[0]);
            Assert.Equal(workers, ran.Values.Distinct().Count());
        }
    }

    [Fact]
    public void AllWorkersRunAtOnce()
    {
        // Every index waits for all the others: a team that ran them one after another would never finish.
        var team = new WorkerTeam(3);
        var barrier = new Barrier(4);
        Assert.True(RunBounded(team, _ => Assert.True(barrier.SignalAndWait(Patience), "a worker never arrived"), 4));
    }

    [Fact]
    public void MoreWorkersThanTheTeamHas_Declines_AndRunsNothing()
    {
        var team = new WorkerTeam(1);
        int ran = 0;
        Assert.False(team.TryRun(_ => Interlocked.Increment(ref ran), 3));
        Assert.Equal(0, ran);
        Assert.False(new WorkerTeam(0).TryRun(_ => Interlocked.Increment(ref ran), 2));
        Assert.Equal(0, ran);
    }

    [Fact]
    public void ACallWhileTheTeamIsBusy_Declines_AndACallFromInsideAWorkerToo()
    {
        var team = new WorkerTeam(2);
        using var holding = new ManualResetEvent(false);
        using var release = new ManualResetEvent(false);
        bool? nested = null, first = null;
        var caller = new Thread(() => first = team.TryRun(i =>
        {
            if (i == 0)
            {
                nested = team.TryRun(_ => { }, 2);
            }
            if (i == 1)
            {
                holding.Set();
                release.WaitOne(Patience);
            }
        }, 2));
        caller.IsBackground = true; // a call that never returns must not keep the test run alive
        caller.Start();
        Assert.True(holding.WaitOne(Patience), "the first call never started");
        int ran = 0;
        Assert.False(team.TryRun(_ => Interlocked.Increment(ref ran), 2));
        Assert.Equal(0, ran);
        release.Set();
        Assert.True(caller.Join(Patience), "the first call never finished");
        Assert.True(first);
        Assert.False(nested);
        Assert.True(RunBounded(team, _ => Interlocked.Increment(ref ran), 2));
        Assert.Equal(2, ran);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void AFailureSurfacesOnce_AfterEveryIndexFinished_AndTheTeamRunsAgain(int failing)
    {
        var team = new WorkerTeam(2);
        int finished = 0;
        var e = Assert.Throws<InvalidOperationException>(() => RunBounded(team, i =>
        {
            if (i == failing)
            {
                throw new ArgumentException($"index {i} failed");
            }
            Thread.Sleep(20);
            Interlocked.Increment(ref finished);
        }, 3));
        Assert.Equal($"index {failing} failed", Assert.IsType<ArgumentException>(e.InnerException).Message);
        Assert.Equal(2, finished);
        int ran = 0;
        Assert.True(RunBounded(team, _ => Interlocked.Increment(ref ran), 3));
        Assert.Equal(3, ran);
    }

    [Fact]
    public void WorkersAsleepBetweenCalls_AreWoken()
    {
        // Calls far apart (the workers stop spinning after a few milliseconds and block) and calls back to back.
        var team = new WorkerTeam(2);
        int ran = 0;
        for (int call = 0; call < 20; call++)
        {
            if (call % 2 == 0)
            {
                Thread.Sleep(30);
            }
            Assert.True(RunBounded(team, _ => Interlocked.Increment(ref ran), 3));
        }
        Assert.Equal(60, ran);
    }
}
