using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;
using Walden.Configuration;
using Walden.Writing;

namespace Walden.Tests.Writing;

public sealed class GatheringTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void GatherBudget_AfterACommitOfManyWrites_WaitsForThatManyForAtMostAQuarterOfTheCommitTime()
    {
        var oneMs = Stopwatch.Frequency / 1000;

        Assert.Equal((64, oneMs / 4), GroupCommitWriter.GatherBudget(64, 0, oneMs, 1000));
        Assert.Equal((1000, oneMs / 4), GroupCommitWriter.GatherBudget(5000, 0, oneMs, 1000)); // never more than a batch holds
        Assert.Equal((64, GroupCommitWriter.MaxGatherTicks), GroupCommitWriter.GatherBudget(64, 0, 1000 * oneMs, 1000)); // a slow commit does not mean a long wait
    }

    [Fact]
    public void GatherBudget_CountsTheWritesQueuedBehindTheLastCommit_AsWellAsTheOnesItAcknowledged()
    {
        var oneMs = Stopwatch.Frequency / 1000;

        Assert.Equal((8, oneMs / 4), GroupCommitWriter.GatherBudget(7, 1, oneMs, 1000)); // 8 producers, one late for the last commit
        Assert.Equal((64, oneMs / 4), GroupCommitWriter.GatherBudget(63, 1, oneMs, 1000));
        Assert.Equal((1000, oneMs / 4), GroupCommitWriter.GatherBudget(64, 5000, oneMs, 1000));
    }

    [Theory]
    [InlineData(1, 0, 1000)]  // one producer: its next write is the only one coming, never wait
    [InlineData(1, 10, 1000)] // one write acknowledged: what is queued is taken at once, one more at most comes back
    [InlineData(0, 0, 1000)]  // nothing acknowledged (first batch, or the commit failed)
    [InlineData(0, 5, 1000)]  // nothing acknowledged, so nothing is coming back: what is queued is all there is
    [InlineData(64, 0, 0)]    // no commit time known
    public void GatherBudget_WhenNothingIsWorthWaitingFor_DoesNotWait(int acknowledged, int queuedBehind, long commitTicks)
    {
        Assert.Equal((0, 0L), GroupCommitWriter.GatherBudget(acknowledged, queuedBehind, commitTicks, 1000));
    }

    /// <summary>
    /// Eight producers: a commit carries seven of their writes and the eighth arrives during its COMMIT. The next batch starts
    /// with that eighth write and must gather all seven returning writes with it, not close at seven again (which would leave
    /// one write for the batch after, and every later commit one short).
    /// </summary>
    [Fact]
    public async Task AWriteThatMissedACommit_DoesNotSplitTheNextBatch()
    {
        var bound = TimeSpan.FromSeconds(60); // a safety net only
        WaldenDatabase? db = null;
        Task<int>? late = null;
        var holdFirst = 0;
        var sevenSeen = 0;
        var lateArmed = 0;
        var holdNext = 0;
        using var firstHeld = new ManualResetEventSlim();
        using var releaseFirst = new ManualResetEventSlim();
        using var nextHeld = new ManualResetEventSlim();
        using var releaseNext = new ManualResetEventSlim();
        var options = new WaldenOptions
        {
            Faults = new WriterFaults
            {
                KeepWritesOnWriterThread = true,
                BeforeBatch = size =>
                {
                    if (Interlocked.Exchange(ref holdFirst, 0) == 1)
                    {
                        firstHeld.Set(); // [w0], held while the seven writes queue behind it
                        releaseFirst.Wait(bound);
                    }
                    else if (size == 7 && Interlocked.Exchange(ref sevenSeen, 1) == 0)
                    {
                        Volatile.Write(ref lateArmed, 1); // the eighth producer's write arrives during this batch's COMMIT
                        Volatile.Write(ref holdNext, 1);
                    }
                    else if (Interlocked.Exchange(ref holdNext, 0) == 1)
                    {
                        nextHeld.Set(); // [the late write], held while the seven come back
                        releaseNext.Wait(bound);
                    }
                },
                FailCommit = _ =>
                {
                    if (Interlocked.Exchange(ref lateArmed, 0) == 1)
                    {
                        // From another thread (the writer's own would be refused), queued before the COMMIT returns.
                        late = Task.Factory.StartNew(() => db!.WriteAsync(c => Sql.Insert(c, 8, 0)), CancellationToken.None,
                            TaskCreationOptions.None, TaskScheduler.Default).Result;
                    }

                    return false;
                },
            },
        };
        db = await WaldenDatabase.OpenAsync(_dir.File("split.db"), options);
        await using var _ = db;
        await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(bound);

        Volatile.Write(ref holdFirst, 1);
        var w0 = db.WriteAsync(c => Sql.Insert(c, 0, 0));
        Assert.True(firstHeld.Wait(bound));
        var seven = Enumerable.Range(1, 7).Select(p => db.WriteAsync(c => Sql.Insert(c, p, 0))).ToArray(); // one batch of seven
        releaseFirst.Set();
        await Task.WhenAll(seven.Append(w0)).WaitAsync(bound);
        Assert.True(nextHeld.Wait(bound)); // the next batch began with the late write alone

        var before = (await db.GetStatsAsync()).Commits;
        var returning = Enumerable.Range(1, 7).Select(p => db.WriteAsync(c => Sql.Insert(c, p, 1))).ToArray();
        releaseNext.Set();
        await Task.WhenAll(returning.Append(late!)).WaitAsync(bound);

        Assert.Equal(1, (await db.GetStatsAsync()).Commits - before); // the late write and the seven returning ones: one commit
    }

    [Theory]
    [InlineData(long.MaxValue)] // nothing written yet, or idle for long
    [InlineData(10_000)] // one write every 10 ms
    public void ShouldLinger_WhenTheWriterLastWaitedLongForAWrite_ParksAtOnceWithoutSpinning(long waitedMicroseconds)
    {
        var waitedTicks = waitedMicroseconds == long.MaxValue ? long.MaxValue : waitedMicroseconds * System.Diagnostics.Stopwatch.Frequency / 1_000_000;
        Assert.False(GroupCommitWriter.ShouldLinger(waitedTicks));
        Assert.False(GroupCommitWriter.ShouldLinger(GroupCommitWriter.LingerWhenWaitedTicks + 1));
    }

    [Fact]
    public void ShouldLinger_WhileWritesArriveFasterThanTheSpin_Spins()
    {
        Assert.True(GroupCommitWriter.ShouldLinger(0));
        Assert.True(GroupCommitWriter.ShouldLinger(GroupCommitWriter.LingerTicks));
    }

    [Fact]
    public void RawStatement_WhenTheStatementFails_ThrowsSqliteErrorsCodesAndStaysUsable()
    {
        using var connection = Sql.OpenDirect(_dir.File("raw.db"));
        using var savepoint = new RawStatement(connection, "SAVEPOINT s");
        using var release = new RawStatement(connection, "RELEASE s");

        var error = Assert.Throws<SqliteException>(release.Execute); // no savepoint open yet
        Assert.Equal(1, error.SqliteErrorCode); // SQLITE_ERROR
        Assert.Contains("no such savepoint", error.Message, StringComparison.Ordinal);

        savepoint.Execute();
        Assert.Equal(0, SQLitePCL.raw.sqlite3_get_autocommit(connection.Handle)); // the savepoint opened a transaction
        release.Execute();
        Assert.NotEqual(0, SQLitePCL.raw.sqlite3_get_autocommit(connection.Handle));
    }
}
