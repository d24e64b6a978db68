using Microsoft.Data.Sqlite;

namespace Walden.Writing;

/// <summary>One accepted write as the writer loop sees it.</summary>
internal interface IWriteRequest
{
    /// <summary>When the request was accepted (a <see cref="TimeProvider"/> timestamp), for the acknowledgement latency.</summary>
    long AcceptedAt { get; }

    /// <summary>Claims the request for execution; false when its caller cancelled it first.</summary>
    bool TryStart();

    /// <summary>Runs the caller's delegate on the writer connection, inside the batch's savepoint.</summary>
    void Execute(SqliteConnection connection);

    /// <summary>Reports the stored result; called only after the batch committed.</summary>
    void Succeed();

    /// <summary>Reports a failure (its own delegate threw, or the batch did not commit).</summary>
    void Fail(Exception exception);
}

/// <summary>
/// A write and its completion in one object (it is its own <see cref="TaskCompletionSource{TResult}"/>),
/// so a write costs one allocation here. Continuations run asynchronously, never on the writer thread.
/// </summary>
internal sealed class WriteRequest<T> : TaskCompletionSource<T>, IWriteRequest
{
    private const int Queued = 0;
    private const int Started = 1;
    private const int Cancelled = 2;

    private readonly Func<SqliteConnection, T> _write;
    private CancellationTokenRegistration _cancellation;
    private int _state;
    private T? _result;

    internal WriteRequest(Func<SqliteConnection, T> write, CancellationToken cancellationToken, long acceptedAt = 0)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        _write = write;
        AcceptedAt = acceptedAt;
        if (cancellationToken.CanBeCanceled)
        {
            // A queued write may be withdrawn until the writer claims it; after that its outcome is reported as it happens.
            _cancellation = cancellationToken.UnsafeRegister(static (state, token) =>
            {
                var request = (WriteRequest<T>)state!;
                if (Interlocked.CompareExchange(ref request._state, Cancelled, Queued) == Queued)
                {
                    request.TrySetCanceled(token);
                }
            }, this);
        }
    }

    public long AcceptedAt { get; }

    public bool TryStart()
    {
        var started = Interlocked.CompareExchange(ref _state, Started, Queued) == Queued;
        _cancellation.Dispose();
        return started;
    }

    public void Execute(SqliteConnection connection) => _result = _write(connection);

    public void Succeed()
    {
        var result = _result;
        _result = default;
        TrySetResult(result!);
    }

    public void Fail(Exception exception) => TrySetException(exception);
}
