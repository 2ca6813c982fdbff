using System.Runtime.ExceptionServices;

namespace AttnGen;

/// <summary>
/// Runs <c>body(0) .. body(workers - 1)</c> at once: index 0 on the calling thread, the others on the thread
/// pool, and returns when all are done. Unlike Parallel.For it allocates nothing once the work items for a
/// worker count exist, so a layer's steady-state Forward stays allocation-free on several threads too.
/// One group serves one caller at a time (a layer is not called concurrently).
/// </summary>
internal sealed class WorkerGroup
{
    // How often the caller spins (yielding, never sleeping) for the other workers before it blocks.
    private const int SpinsBeforeBlocking = 35;

    private readonly Action<int> _body;
    // The caller blocks on this lock when spinning was not enough. It exists from the start: a lazily made wait
    // object (ManualResetEventSlim makes its lock on the first wait that blocks) would allocate in the steady state.
    private readonly object _gate = new();
    private bool _finished;
    private WorkItem[] _items = [];
    private int _pending;
    private Exception? _failure;

    /// <summary>A group running <paramref name="body"/> with the worker index.</summary>
    public WorkerGroup(Action<int> body) => _body = body;

    /// <summary>Runs the body for every worker index and waits; rethrows the first failure.</summary>
    public void Run(int workers)
    {
        if (workers <= 1)
        {
            _body(0);
            return;
        }
        if (_items.Length < workers - 1)
        {
            var items = new WorkItem[workers - 1];
            for (int i = 0; i < items.Length; i++)
            {
                items[i] = i < _items.Length ? _items[i] : new WorkItem(this, i + 1);
            }
            _items = items;
        }
        _failure = null;
        Volatile.Write(ref _finished, false);
        Volatile.Write(ref _pending, workers);
        for (int i = 0; i < workers - 1; i++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(_items[i], preferLocal: false);
        }
        Execute(0);
        WaitForAll();
        if (_failure is { } failure)
        {
            ExceptionDispatchInfo.Capture(failure).Throw();
        }
    }

    private void Execute(int index)
    {
        try
        {
            _body(index);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _failure, e, null);
        }
        if (Interlocked.Decrement(ref _pending) == 0)
        {
            lock (_gate)
            {
                _finished = true;
                Monitor.PulseAll(_gate);
            }
        }
    }

    // Spins briefly (the workers usually finish close together), then blocks until the last one is done.
    private void WaitForAll()
    {
        var spinner = default(SpinWait);
        while (!Volatile.Read(ref _finished) && spinner.Count < SpinsBeforeBlocking)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }
        lock (_gate)
        {
            while (!_finished)
            {
                Monitor.Wait(_gate);
            }
        }
    }

    private sealed class WorkItem(WorkerGroup group, int index) : IThreadPoolWorkItem
    {
        public void Execute() => group.Execute(index);
    }
}
