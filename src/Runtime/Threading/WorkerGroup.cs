using System.Runtime.ExceptionServices;

namespace AttnGen;

/// <summary>
/// Runs <c>body(0) .. body(workers - 1)</c> at once: index 0 on the calling thread, the others on the process's
/// <see cref="WorkerTeam"/> when it is free and large enough, else on the thread pool, and returns when all are done. Unlike Parallel.For it allocates nothing once the work items for a
/// worker count exist, so a layer's steady-state Forward stays allocation-free on several threads too.
/// One group serves one caller at a time (a layer is not called concurrently).
/// </summary>
internal sealed class WorkerGroup
{
    private readonly Action<int> _body;
    // The caller waits here for the other workers, spinning, then blocking on a lock made up front.
    private readonly SpinThenBlock _done = new();
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
        if (WorkerTeam.Shared.TryRun(_body, workers))
        {
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
        _done.WaitUntil(new Finished(this));
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
            Volatile.Write(ref _finished, true);
            _done.WakeAll();
        }
    }

    private readonly struct Finished(WorkerGroup group) : SpinThenBlock.ICondition
    {
        public bool IsMet => Volatile.Read(ref group._finished);
    }

    private sealed class WorkItem(WorkerGroup group, int index) : IThreadPoolWorkItem
    {
        public void Execute() => group.Execute(index);
    }
}
