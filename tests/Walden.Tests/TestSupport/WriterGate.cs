using System.Collections.Concurrent;
using Walden.Writing;

namespace Walden.Tests.TestSupport;

/// <summary>
/// Holds the writer thread at the start of a batch, so a test can line up writes in the queue and know
/// exactly which batch they will share: signals, never sleeps.
/// </summary>
internal sealed class WriterGate
{
    private readonly ManualResetEventSlim _release = new(initialState: true);
    private TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _armed;

    public ConcurrentQueue<int> BatchSizes { get; } = new();

    public WriterFaults Faults(Func<long, bool>? failCommit = null, Action<int>? beforeBatch = null) => new()
    {
        BeforeBatch = beforeBatch is null ? OnBatch : size =>
        {
            OnBatch(size);
            beforeBatch(size);
        },
        FailCommit = failCommit,
        KeepWritesOnWriterThread = true, // a write run inline by the test's thread would hold the test itself at the gate
    };

    /// <summary>The next batch will wait at its start until <see cref="Release"/>; the returned task completes when it is waiting.</summary>
    public Task HoldNextBatch()
    {
        _held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _release.Reset();
        Volatile.Write(ref _armed, 1);
        return _held.Task;
    }

    public void Release() => _release.Set();

    private void OnBatch(int size)
    {
        BatchSizes.Enqueue(size);
        if (Interlocked.Exchange(ref _armed, 0) == 1)
        {
            _held.TrySetResult();
            _release.Wait();
        }
    }
}
