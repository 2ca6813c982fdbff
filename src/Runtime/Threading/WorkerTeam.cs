using System.Diagnostics;

namespace AttnGen;

/// <summary>
/// Worker threads of the process's own, one fewer than processors, that every layer's calls share: a call runs its
/// body on the calling thread and on as many of them as it needs. Between calls a worker spins for a while before it
/// blocks, so the next call (the next layer, Backward after ForwardTrain, the next step) finds it running on its own
/// core. A thread-pool thread woken for every call is instead placed by the scheduler each time, often on the
/// caller's core: in a two-thread training step on two cores about a quarter of the Backward calls started with both
/// workers on one core or had one move, and those took 11-18% longer.
/// </summary>
/// <remarks>
/// One call at a time: a call that finds the team busy (another layer on another thread, or a call from inside a
/// worker), or that needs more workers than the team has, gets false from <see cref="TryRun"/> and runs on the thread
/// pool instead. Nothing is allocated per call.
/// </remarks>
internal sealed class WorkerTeam
{
    // How long an idle worker spins for the next call before it blocks: longer than the gaps of a training step
    // between its layer calls (the loss, the optimizer step: about a millisecond at ModelDim 512), short enough that a
    // program that stops calling gets its cores back at once.
    private static readonly long s_spinTicks = Stopwatch.Frequency / 500;

    private static readonly Lazy<WorkerTeam> s_shared = new(() => new WorkerTeam(Environment.ProcessorCount - 1));

    // Made on first use, so a call on two threads of a many-core machine starts one thread, not one per processor.
    private readonly Worker?[] _workers;
    private readonly WorkerCall _call = new();
    private int _busy;

    /// <summary>The process's team.</summary>
    public static WorkerTeam Shared => s_shared.Value;

    /// <summary>A team of up to <paramref name="size"/> worker threads (background threads, each started by the first call that needs it).</summary>
    public WorkerTeam(int size) => _workers = new Worker?[Math.Max(0, size)];

    /// <summary>
    /// Runs <c>body(0)</c> on the calling thread and <c>body(1) .. body(workers - 1)</c> on the team's threads, all at
    /// once, and returns true when all are done (rethrowing the first failure); returns false at once, having run
    /// nothing, when the team is busy or smaller than <paramref name="workers"/> - 1.
    /// </summary>
    public bool TryRun(Action<int> body, int workers)
    {
        if (workers - 1 > _workers.Length || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            return false;
        }
        try
        {
            // Threads first: if one cannot be made, nothing has started.
            for (int i = 0; i < workers - 1; i++)
            {
                _workers[i] ??= new Worker(this, i + 1);
            }
            _call.Begin(body, workers);
            for (int i = 0; i < workers - 1; i++)
            {
                _workers[i]!.Start();
            }
            _call.Execute(0);
            _call.WaitAndRethrow();
            return true;
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    // One thread: it waits for its call count to move (spinning, then blocking), runs its index of the body, and waits
    // again.
    private sealed class Worker
    {
        private readonly WorkerTeam _team;
        private readonly int _index;
        private readonly SpinThenBlock _wake = new();
        private int _calls;

        public Worker(WorkerTeam team, int index)
        {
            _team = team;
            _index = index;
            new Thread(Loop) { IsBackground = true, Name = $"AttnGen worker {index}" }.Start();
        }

        // Called by the runner: a new call for this worker.
        public void Start()
        {
            Interlocked.Increment(ref _calls);
            _wake.WakeAll();
        }

        private void Loop()
        {
            for (int seen = 1; ; seen++)
            {
                _wake.WaitUntil(new Called(this, seen), s_spinTicks);
                _team._call.Execute(_index);
            }
        }

        private readonly struct Called(Worker worker, int call) : SpinThenBlock.ICondition
        {
            public bool IsMet => Volatile.Read(ref worker._calls) >= call;
        }
    }
}
