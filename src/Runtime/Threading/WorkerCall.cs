using System.Runtime.ExceptionServices;

namespace AttnGen;

/// <summary>
/// The bookkeeping of one call run by several workers, shared by <see cref="WorkerGroup"/> and
/// <see cref="WorkerTeam"/>: each worker runs its index of the body and counts itself done, the first failure is
/// kept, and the caller waits (spinning, then blocking) until the count reaches zero. Reused call after call, so
/// nothing is allocated per call.
/// </summary>
internal sealed class WorkerCall
{
    private readonly SpinThenBlock _done = new();
    private Action<int>? _body;
    private int _pending;
    private bool _finished;
    private Exception? _failure;

    /// <summary>Starts a call of <paramref name="body"/> on <paramref name="workers"/> workers; call before any worker runs.</summary>
    public void Begin(Action<int> body, int workers)
    {
        _body = body;
        _failure = null;
        Volatile.Write(ref _finished, false);
        Volatile.Write(ref _pending, workers);
    }

    /// <summary>Runs worker <paramref name="index"/>'s part, keeping a failure instead of throwing it, and counts it done.</summary>
    public void Execute(int index)
    {
        try
        {
            _body!(index);
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

    /// <summary>Waits until every worker is done, then rethrows the first failure, if any.</summary>
    public void WaitAndRethrow()
    {
        _done.WaitUntil(new Finished(this));
        _body = null;
        if (_failure is { } failure)
        {
            ExceptionDispatchInfo.Capture(failure).Throw();
        }
    }

    private readonly struct Finished(WorkerCall call) : SpinThenBlock.ICondition
    {
        public bool IsMet => Volatile.Read(ref call._finished);
    }
}
