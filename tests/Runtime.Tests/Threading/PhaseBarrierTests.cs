namespace AttnGen.Runtime.Tests.Threading;

/// <summary>
/// The meeting point of the workers sharing a sequence: nobody leaves a phase before everyone arrived, phases
/// repeat, a failing participant releases the others, and a waiter that has to block allocates nothing.
/// </summary>
public class PhaseBarrierTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void NobodyLeavesAPhase_BeforeEveryParticipantArrived_OverManyPhases(int participants)
    {
        const int Phases = 200;
        var barrier = new PhaseBarrier();
        barrier.Reset(participants);
        // Each participant records the phase it is in; after a meeting every record must be at least that phase.
        var reached = new int[participants];
        var violations = 0;
        var threads = Enumerable.Range(0, participants).Select(p => new Thread(() =>
        {
            for (int phase = 1; phase <= Phases; phase++)
            {
                if ((p + phase) % 7 == 0)
                {
                    Thread.Sleep(1); // someone is late now and then
                }
                Volatile.Write(ref reached[p], phase);
                barrier.SignalAndWait();
                for (int other = 0; other < participants; other++)
                {
                    if (Volatile.Read(ref reached[other]) < phase)
                    {
                        Interlocked.Increment(ref violations);
                    }
                }
            }
        })).ToArray();
        foreach (Thread t in threads)
        {
            t.Start();
        }
        foreach (Thread t in threads)
        {
            Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a participant never left the barrier");
        }
        Assert.Equal(0, violations);
        Assert.Equal(Phases, barrier.Phase);
    }

    [Fact]
    public void OneParticipant_PassesStraightThrough()
    {
        var barrier = new PhaseBarrier();
        barrier.Reset(1);
        barrier.SignalAndWait();
        barrier.SignalAndWait();
        Assert.Equal(2, barrier.Phase);
    }

    [Fact]
    public void Break_ReleasesAWaiter_WithBrokenException_AndLaterArrivalsToo_UntilReset()
    {
        var barrier = new PhaseBarrier();
        barrier.Reset(2);
        Exception? seen = null;
        var waiter = new Thread(() =>
        {
            try
            {
                barrier.SignalAndWait();
            }
            catch (Exception e)
            {
                seen = e;
            }
        });
        waiter.Start();
        Thread.Sleep(50); // long past the spinning: the waiter blocks
        barrier.Break();
        Assert.True(waiter.Join(TimeSpan.FromSeconds(30)), "Break did not release the waiter");
        Assert.IsType<PhaseBarrier.BrokenException>(seen);
        Assert.True(barrier.IsBroken);
        Assert.Throws<PhaseBarrier.BrokenException>(barrier.SignalAndWait);

        barrier.Reset(1);
        Assert.False(barrier.IsBroken);
        barrier.SignalAndWait();
        Assert.Equal(1, barrier.Phase);
    }

    [Fact]
    public void Reset_BelowOneParticipant_ThrowsNamingIt()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new PhaseBarrier().Reset(0));
        Assert.Equal("participants", e.ParamName);
        Assert.StartsWith("'participants' is 0; expected at least 1.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AWaiterThatHasToBlock_AllocatesNothing()
    {
        // The other participant arrives far later than this thread spins, so every measured wait blocks.
        var barrier = new PhaseBarrier();
        barrier.Reset(2);
        using var go = new SemaphoreSlim(0);
        var late = new Thread(() =>
        {
            for (int i = 0; i < 4; i++)
            {
                go.Wait();
                Thread.Sleep(30);
                barrier.SignalAndWait();
            }
        });
        late.Start();
        go.Release();
        barrier.SignalAndWait(); // the first blocking wait outside the measurement
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++)
        {
            go.Release();
            barrier.SignalAndWait();
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(late.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, allocated);
        Assert.Equal(4, barrier.Phase);
    }

    [Fact]
    public void SequenceSplit_SharesUnitsOutInContiguousRanges_CoveringEachOnce()
    {
        var barrier = new PhaseBarrier();
        foreach (int parts in new[] { 1, 2, 3, 7 })
        {
            barrier.Reset(parts);
            foreach (int units in new[] { 0, 1, 2, 5, 32, 33 })
            {
                var covered = new int[units];
                int next = 0;
                for (int part = 0; part < parts; part++)
                {
                    var split = new SequenceSplit(part, parts, barrier);
                    Assert.Equal(next, split.Start(units));
                    Assert.InRange(split.End(units) - split.Start(units), units / parts, (units + parts - 1) / parts);
                    for (int u = split.Start(units); u < split.End(units); u++)
                    {
                        covered[u]++;
                    }
                    next = split.End(units);
                    Assert.Equal(part == parts - 1, split.IsLast);
                }
                Assert.Equal(units, next);
                Assert.All(covered, c => Assert.Equal(1, c));
            }
        }
        Assert.Equal(1, SequenceSplit.Whole.Parts);
        Assert.Equal(0, SequenceSplit.Whole.Part);
        SequenceSplit.Whole.Sync(); // one part: nothing to wait for
        Assert.Throws<ArgumentOutOfRangeException>(() => new SequenceSplit(2, 2, barrier));
        Assert.Throws<ArgumentNullException>(() => new SequenceSplit(0, 2, null));
    }
}
