using System.Collections.Concurrent;
using Dapper;
using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;
using Walden.Writing;

namespace Walden.Tests.Writing;

/// <summary>
/// A caller that finds the writer idle runs its batch on its own thread (GroupCommitWriter.Inline). Every guarantee of the
/// writer thread holds there too: acknowledged only after COMMIT, one batch at a time and in order, a failure fails only
/// its batch, misuse refused. The writes run inside Task.Run: xunit's synchronization context keeps them off the inline path.
/// </summary>
public sealed class InlineWriteTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60); // a safety net only: every wait below completes at once

    private readonly TempDirectory _dir = new();
    // Decides whether a write comes right after the last batch ("hot"); advanced before a write that must find the writer idle.
    private readonly FakeTimeProvider _clock = new();

    public void Dispose() => _dir.Dispose();

    private async Task<WaldenDatabase> OpenAsync(WriterFaults? faults = null, WaldenDurability durability = WaldenDurability.Full)
    {
        faults ??= new WriterFaults();
        var options = new WaldenOptions
        {
            Faults = new WriterFaults
            {
                FailCommit = faults.FailCommit,
                WalSyncResult = faults.WalSyncResult,
                BeforeBatch = faults.BeforeBatch,
                AfterQueuedBatch = faults.AfterQueuedBatch,
                InlineClock = _clock,
            },
            Durability = durability,
            CheckpointIdleDelay = TimeSpan.FromHours(1), // an idle TRUNCATE holds the writer: a write then is queued, not run inline
        };
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options);
        await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);
        return db;
    }

    /// <summary>The writer has been idle for a while: the next write comes after a pause, not right after the last batch.</summary>
    private void Pause() => _clock.Advance(TimeSpan.FromSeconds(1));

    private static Task<long> CountAsync(WaldenDatabase db) => db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log"));

    /// <summary>Starts a write from a pool thread without the caller's ExecutionContext (so not as work of the running delegate).</summary>
    private static TaskCompletionSource<Task<int>> StartElsewhere(WaldenDatabase db, int producer, Action? running = null)
    {
        var started = new TaskCompletionSource<Task<int>>(TaskCreationOptions.RunContinuationsAsynchronously);
        ThreadPool.UnsafeQueueUserWorkItem(_ => started.SetResult(db.WriteAsync(c =>
        {
            running?.Invoke();
            return Sql.Insert(c, producer, 0);
        })), null);
        return started;
    }

    [Fact]
    public async Task WriteAsync_WhenTheWriterIsIdle_RunsOnTheCallersThreadAndReturnsACompletedTaskOnlyAfterItsCommit()
    {
        await using var db = await OpenAsync();
        await Task.Run(async () =>
        {
            var caller = Environment.CurrentManagedThreadId;
            Pause();
            var write = db.WriteAsync(c =>
            {
                Sql.Insert(c, 1, 0);
                return Environment.CurrentManagedThreadId;
            });

            Assert.True(write.IsCompletedSuccessfully); // no hand-off: the commit ran before WriteAsync returned
            Assert.Equal(caller, await write);
            using var other = Sql.OpenDirect(db.Path, readOnly: true); // another connection sees only what was committed
            Assert.Equal(1, other.Scalar<long>("SELECT count(*) FROM log"));
        }).WaitAsync(Bound);
    }

    [Fact]
    public async Task WriteAsync_OnTheCallersThread_WhenItsCommitFails_FailsExactlyItsBatchAndTheNextWriteSucceeds()
    {
        var failNext = 0;
        await using var db = await OpenAsync(new WriterFaults { FailCommit = _ => Interlocked.Exchange(ref failNext, 0) == 1 });
        await Task.Run(async () =>
        {
            // Three writes queued while the caller's delegate runs join its batch (FIFO, after it) and share its COMMIT.
            var queued = new List<TaskCompletionSource<Task<int>>>();
            Volatile.Write(ref failNext, 1);
            Pause();
            var first = db.WriteAsync(c =>
            {
                Sql.Insert(c, 1, 0);
                queued.AddRange(Enumerable.Range(2, 3).Select(p => StartElsewhere(db, p)));
                Assert.True(SpinWait.SpinUntil(() => db.WriteQueueDepth == 3, Bound));
                return Environment.CurrentManagedThreadId;
            });

            Assert.True(first.IsFaulted); // reported before WriteAsync returned, and as not acknowledged
            var error = Assert.IsAssignableFrom<WaldenException>(first.Exception!.InnerException);
            Assert.Contains("not acknowledged", error.Message, StringComparison.Ordinal);
            foreach (var write in queued)
            {
                var joined = await Assert.ThrowsAnyAsync<WaldenException>(async () => await await write.Task.WaitAsync(Bound));
                Assert.Same(error, joined);
            }

            Assert.Equal(1, await db.WriteAsync(c => Sql.Insert(c, 5, 0)));
        }).WaitAsync(Bound);

        Assert.Equal([5], await db.ReadAsync(c => c.Query<long>("SELECT producer FROM log ORDER BY producer").ToList()).WaitAsync(Bound));
    }

    [Fact]
    public async Task AnInlineBatchAndAWriterThreadBatch_NeverOverlap_AndRunInTheOrderTheyTookTheWriter()
    {
        var events = new ConcurrentQueue<string>();
        var inInlineCommit = 0;
        WaldenDatabase? opened = null;
        TaskCompletionSource<Task<int>>? second = null;
        var faults = new WriterFaults
        {
            FailCommit = _ =>
            {
                if (Interlocked.Exchange(ref inInlineCommit, 0) == 1)
                {
                    // Inside the inline batch's COMMIT: a write queued now is the writer thread's. It must wait for this batch.
                    events.Enqueue("commit 1 starts");
                    second = StartElsewhere(opened!, 2, () => events.Enqueue("write 2 runs"));
                    Assert.True(SpinWait.SpinUntil(() => opened!.WriterRoleWaits > 0 || events.Contains("write 2 runs"), Bound));
                    events.Enqueue("commit 1 ends");
                }

                return false;
            },
        };
        await using var db = opened = await OpenAsync(faults);
        await Task.Run(async () =>
        {
            var caller = Environment.CurrentManagedThreadId;
            Pause();
            var first = db.WriteAsync(c =>
            {
                events.Enqueue("write 1 runs");
                Volatile.Write(ref inInlineCommit, 1);
                return Sql.Insert(c, 1, 0);
            });
            Assert.True(first.IsCompletedSuccessfully);
            events.Enqueue("write 1 acknowledged");
            var secondWrite = await second!.Task.WaitAsync(Bound);
            Assert.Equal(1, await secondWrite.WaitAsync(Bound));
        }).WaitAsync(Bound);

        // The second write ran after the first batch had committed: never inside it, never in parallel with it.
        var order = events.ToList();
        Assert.Equal(["write 1 runs", "commit 1 starts", "commit 1 ends"], order.Take(3));
        Assert.True(order.IndexOf("write 2 runs") > order.IndexOf("commit 1 ends"));
        Assert.Contains("write 1 acknowledged", order);
        Assert.Equal([1, 2], await db.ReadAsync(c => c.Query<long>("SELECT producer FROM log ORDER BY producer").ToList()).WaitAsync(Bound));
    }

    [Fact]
    public async Task ALoneProducerAwaitingEachWrite_RunsTheProbesOnItsOwnThreadToo()
    {
        await using var db = await OpenAsync();
        var inline = await Task.Run(async () =>
        {
            // The clock never moves, so every write comes right after the last batch ("hot"), and every few is a probe of
            // whether its caller awaits it. The first hot write is one (nothing is known yet: it goes through the writer
            // thread); it finds a lone producer, so the next writes run inline, and so do the next probes. (Which write is
            // the next probe varies: a write that arrives while the writer thread still ends the last batch is queued.)
            var count = 0;
            for (var i = 0; i < 200; i++)
            {
                var caller = Environment.CurrentManagedThreadId;
                var ranOn = await db.WriteAsync(c =>
                {
                    Sql.Insert(c, 1, i);
                    return Environment.CurrentManagedThreadId;
                });
                // While nothing says the writes come from one awaiting producer (at first, or while they pile up), a probe
                // is not committed alone on its caller's thread: under load that took the group commit apart.
                Assert.True(i != 0 || ranOn != caller, "the first probe, with nothing known yet, ran on the caller's thread");
                count += ranOn == caller ? 1 : 0;
            }

            return count;
        }).WaitAsync(Bound);

        Assert.True(inline >= 150, $"only {inline} of 200 awaited writes ran on the caller's thread");
        Assert.True(db.WriterInlineProbes > 0, "every probe was handed to the writer thread");

        Assert.Equal(200, await CountAsync(db).WaitAsync(Bound));
    }

    /// <summary>
    /// The probe's verdict is what stood at its COMMIT. An awaiting producer's next write can only come after the
    /// acknowledgement; when it arrives while the writer thread still ends the probe's batch (a loaded machine: CI, stop 34),
    /// it is queued, and the verdict read then took it for a write that piled up: no write ran inline until the next probe.
    /// </summary>
    [Fact]
    public async Task AProbesNextWrite_ArrivingBeforeTheWriterThreadHasEndedItsBatch_StillFindsOneAwaitingProducer()
    {
        using var nextQueued = new ManualResetEventSlim();
        var hold = 0;
        await using var db = await OpenAsync(new WriterFaults
        {
            AfterQueuedBatch = () =>
            {
                if (Interlocked.Exchange(ref hold, 0) == 1)
                {
                    Assert.True(nextQueued.Wait(Bound), "the producer's next write never came");
                }
            },
        });

        await Task.Run(async () =>
        {
            Volatile.Write(ref hold, 1);
            await db.WriteAsync(c => Sql.Insert(c, 1, 0)); // hot (the clock never moves), nothing known yet: the probe, queued
            var next = db.WriteAsync(c => Sql.Insert(c, 1, 1)); // the writer thread is still in the batch: queued behind it
            nextQueued.Set();
            await next;
        }).WaitAsync(Bound);

        Assert.True(db.WriterHotInlineLimit > 0, "a probe awaited by its one producer was judged a write that piled up");
        Assert.Equal(2, await CountAsync(db).WaitAsync(Bound));
    }

    [Fact]
    public async Task ACallerBlockingOnEachWrite_GetsEveryOneAcknowledged_AndAfterThatTheProbesGoThroughTheWriterThread()
    {
        await using var db = await OpenAsync();
        var elsewhere = await Task.Run(() =>
        {
            // Sync over async on a pool thread: an inline probe's acknowledgement cannot run on the blocked caller's thread,
            // another pool thread must run it; after that the next probes go through the writer thread, whose commit
            // completes the blocked caller directly.
            var count = 0;
            for (var i = 0; i < 200; i++)
            {
                var caller = Environment.CurrentManagedThreadId;
                var ranOn = db.WriteAsync(c =>
                {
                    Sql.Insert(c, 1, i);
                    return Environment.CurrentManagedThreadId;
                }).GetAwaiter().GetResult();
                count += ranOn == caller ? 0 : 1;
            }

            return count;
        }).WaitAsync(Bound);

        Assert.InRange(elsewhere, 1, 200);
        Assert.Equal(200, await CountAsync(db).WaitAsync(Bound));
    }

    [Fact]
    public async Task AWriteStartedWhileAProbesVerdictIsDue_IsQueued_SoABurstAfterALoneProducerSharesCommits()
    {
        await using var db = await OpenAsync();
        await Task.Run(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await db.WriteAsync(c => Sql.Insert(c, 1, i)); // a lone producer: hot writes run inline
            }

            // Then the same thread starts writes without awaiting them, several times over: whichever write of a burst is the
            // probe, the ones after it arrive before its caller lets go of the thread, so they wait for the writer thread.
            for (var burst = 0; burst < 5; burst++)
            {
                var before = (await db.GetStatsAsync()).Commits;
                var writes = Enumerable.Range(0, 200).Select(i => db.WriteAsync(c => Sql.Insert(c, 2 + burst, i))).ToList();
                await Task.WhenAll(writes).WaitAsync(Bound);
                var commits = (await db.GetStatsAsync()).Commits - before;
                Assert.True(commits <= GroupCommitWriter.MaxHotInline + 20, $"burst {burst}: 200 writes took {commits} commits");
            }
        }).WaitAsync(Bound);

        Assert.Equal(1_100, await CountAsync(db).WaitAsync(Bound));
    }

    [Fact]
    public async Task OneThreadStartingManyWritesWithoutAwaitingThem_StillSharesCommits()
    {
        await using var db = await OpenAsync();
        await Task.Run(async () =>
        {
            // A lone producer awaiting each write first: writes run inline, and the writer learns to let hot ones do so.
            var inline = 0;
            for (var i = 0; i < 100; i++)
            {
                var caller = Environment.CurrentManagedThreadId;
                if (await db.WriteAsync(c => Sql.Insert(c, 1, i) * Environment.CurrentManagedThreadId) == caller)
                {
                    inline++;
                }
            }

            Assert.True(inline >= 50, $"only {inline} of 100 awaited writes ran on the caller's thread");

            // Then a burst from one thread: committing each write alone would cost 400 commits.
            var before = (await db.GetStatsAsync()).Commits;
            var burst = Enumerable.Range(0, 400).Select(i => db.WriteAsync(c => Sql.Insert(c, 2, i))).ToList();
            await Task.WhenAll(burst).WaitAsync(Bound);
            var commits = (await db.GetStatsAsync()).Commits - before;
            Assert.True(commits <= GroupCommitWriter.MaxHotInline + 20, $"a burst of 400 writes took {commits} commits");
        }).WaitAsync(Bound);

        Assert.Equal(500, await CountAsync(db).WaitAsync(Bound));
    }

    [Fact]
    public async Task ACallerWithASynchronizationContext_NeverRunsABatchOnItsThread()
    {
        await using var db = await OpenAsync();
        var ran = new TaskCompletionSource<(int Caller, Task<int> Write)>(TaskCreationOptions.RunContinuationsAsynchronously);
        Pause();
        var thread = new Thread(() =>
        {
            SynchronizationContext.SetSynchronizationContext(new UiLikeContext());
            ran.SetResult((Environment.CurrentManagedThreadId, db.WriteAsync(c => Sql.Insert(c, 1, 0) * Environment.CurrentManagedThreadId)));
        });
        thread.Start();
        var (caller, write) = await ran.Task.WaitAsync(Bound);
        Assert.NotEqual(caller, await write.WaitAsync(Bound)); // the writer thread ran it; the UI-like thread never blocked on the fsync
    }

    [Fact]
    public async Task MisuseOnTheCallersThread_IsRefusedAsOnTheWriterThread()
    {
        await using var db = await OpenAsync();
        await Task.Run(async () =>
        {
            Pause();
            var nested = db.WriteAsync(c =>
            {
                Sql.Insert(c, 1, 0);
                return db.WriteAsync(c2 => Sql.Insert(c2, 2, 0)).GetAwaiter().GetResult(); // would wait for itself
            });
            Assert.True(nested.IsFaulted);
            await Assert.ThrowsAsync<InvalidOperationException>(() => nested);

            Action<SqliteConnection> asyncVoid = async c =>
            {
                Sql.Insert(c, 3, 0);
                await Task.Yield();
            };
            Pause();
            var error = await Assert.ThrowsAsync<WaldenException>(() => db.WriteAsync(asyncVoid));
            Assert.Contains("async void", error.Message, StringComparison.Ordinal);
            Assert.Equal(1, await db.WriteAsync(c => Sql.Insert(c, 4, 0)));
        }).WaitAsync(Bound);

        Assert.Equal([4], await db.ReadAsync(c => c.Query<long>("SELECT producer FROM log ORDER BY producer").ToList()).WaitAsync(Bound));
    }

    [Fact]
    public async Task FullPipelined_AWriteRunOnTheCallersThread_IsAcknowledgedOnlyAfterTheFsyncOfTheWal()
    {
        var fail = 0;
        var db = await OpenAsync(new WriterFaults { WalSyncResult = () => Volatile.Read(ref fail) == 1 ? 10 : 0 }, WaldenDurability.FullPipelined);
        await Task.Run(async () =>
        {
            var caller = Environment.CurrentManagedThreadId;
            Pause();
            Assert.Equal(caller, await db.WriteAsync(c => Sql.Insert(c, 1, 0) * Environment.CurrentManagedThreadId)); // ran inline
            Volatile.Write(ref fail, 1); // SQLITE_IOERR from the fsync: the committed write must not be acknowledged
            Pause();
            var error = await Assert.ThrowsAsync<WaldenException>(() => db.WriteAsync(c => Sql.Insert(c, 2, 0)).WaitAsync(Bound));
            Assert.Contains("not acknowledged", error.Message, StringComparison.Ordinal);
        }).WaitAsync(Bound);
        await db.DisposeAsync().AsTask().WaitAsync(Bound);
    }

    [Fact]
    public async Task WhenTheWriterDiesOnTheCallersThread_ThatWriteAndEveryLaterOneFailWithTheCause_AndDisposeCompletes()
    {
        var die = 0;
        var db = await OpenAsync(new WriterFaults
        {
            BeforeBatch = _ =>
            {
                if (Volatile.Read(ref die) == 1)
                {
                    throw new InvalidOperationException("the loop's own error");
                }
            },
        });
        await Task.Run(async () =>
        {
            Volatile.Write(ref die, 1);
            Pause();
            var write = db.WriteAsync(c => Sql.Insert(c, 1, 0));
            Assert.True(write.IsFaulted); // failed on this thread, before WriteAsync returned
            var error = await Assert.ThrowsAsync<WaldenException>(() => write);
            Assert.Contains("writer", error.Message, StringComparison.Ordinal);
            Assert.IsType<InvalidOperationException>(error.InnerException);
            Pause();
            var later = await Assert.ThrowsAsync<WaldenException>(() => db.WriteAsync(c => Sql.Insert(c, 2, 0)).WaitAsync(Bound));
            Assert.Same(error, later); // one error for every later write: the writer is stopped
        }).WaitAsync(Bound);

        Assert.Equal(WaldenHealthStatus.Unhealthy, db.GetHealth().Status);
        await db.DisposeAsync().AsTask().WaitAsync(Bound);
    }

    [Fact]
    public async Task DisposeAsync_WhileCallersRunBatchesOnTheirThreads_EveryWriteEndsCommittedOrRefusedAndNothingHangs()
    {
        var db = await OpenAsync();
        var acknowledged = 0;
        using var started = new CountdownEvent(4);
        var producers = Enumerable.Range(1, 4).Select(p => Task.Run(async () =>
        {
            started.Signal();
            for (var i = 0; ; i++)
            {
                try
                {
                    await db.WriteAsync(c => Sql.Insert(c, p, i));
                    Interlocked.Increment(ref acknowledged);
                }
                catch (WaldenClosedException)
                {
                    return;
                }
            }
        })).ToList();
        Assert.True(started.Wait(Bound));
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref acknowledged) >= 20, Bound));
        await db.DisposeAsync().AsTask().WaitAsync(Bound);
        await Task.WhenAll(producers).WaitAsync(Bound);

        await using var reopened = await WaldenDatabase.OpenAsync(_dir.File("app.db"));
        Assert.True(await reopened.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")).WaitAsync(Bound) >= Volatile.Read(ref acknowledged));
    }

    private sealed class UiLikeContext : SynchronizationContext
    {
        public override void Post(SendOrPostCallback d, object? state) => ThreadPool.QueueUserWorkItem(_ => d(state));
    }
}
