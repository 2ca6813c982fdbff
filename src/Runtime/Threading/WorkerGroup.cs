namespace AttnGen;

/// <summary>
/// Runs <c>body(0) .. body(workers - 1)</c> at once: index 0 on the calling thread, the others on the process's
/// <see cref="WorkerTeam"/> when it is free and large enough, else on the thread pool, and returns when all are
/// done. Unlike Parallel.For it allocates nothing once the work items for a worker count exist, so a layer's
/// steady-state Forward stays allocation-free on several threads too.
/// One group serves one caller at a time (a layer is not called concurrently).
/// </summary>
internal sealed class WorkerGroup
{
    private readonly Action<int> _body;
    private readonly WorkerCall _call = new();
    private WorkItem[] _items = [];

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
        _call.Begin(_body, workers);
        for (int i = 0; i < workers - 1; i++)
        {
            ThreadPool.UnsafeQueueUserWorkItem(_items[i], preferLocal: false);
        }
        _call.Execute(0);
        _call.WaitAndRethrow();
    }

    private sealed class WorkItem(WorkerGroup group, int index) : IThreadPoolWorkItem
    {
        public void Execute() => group._call.Execute(index);
    }
}
