using Dapper;
using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Writing;

public sealed class GroupCommitTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<WaldenDatabase> OpenAsync(WriterGate? gate = null, Func<long, bool>? failCommit = null, Action<WaldenOptions>? configure = null)
    {
        var options = new WaldenOptions { Faults = gate?.Faults(failCommit) ?? (failCommit is null ? null : new() { FailCommit = failCommit }) };
        configure?.Invoke(options);
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options);
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        return db;
    }

    [Fact]
    public async Task WriteAsync_With64ProducersOf1000Writes_CommitsEveryWriteExactlyOnce()
    {
        await using var db = await OpenAsync();

        var producers = Enumerable.Range(0, 64).Select(p => Task.Run(async () =>
        {
            for (var s = 0; s < 1000; s++)
            {
                var seq = s;
                Assert.Equal(1, await db.WriteAsync(c => Sql.Insert(c, p, seq)));
            }
        }));
        await Task.WhenAll(producers);

        var (rows, distinct, perProducerOk) = await db.ReadAsync(c => (
            c.Scalar<long>("SELECT count(*) FROM log"),
            c.Scalar<long>("SELECT count(*) FROM (SELECT DISTINCT producer, seq FROM log)"),
            c.Scalar<long>("SELECT count(*) FROM (SELECT producer FROM log GROUP BY producer HAVING count(*) = 1000 AND min(seq) = 0 AND max(seq) = 999)")));
        Assert.Equal(64_000, rows);
        Assert.Equal(64_000, distinct);
        Assert.Equal(64, perProducerOk);
    }

    [Fact]
    public async Task WriteAsync_WhenOneWriteThrows_OnlyThatCallerFailsAndTheRestOfTheBatchCommits()
    {
        var gate = new WriterGate();
        await using var db = await OpenAsync(gate);
        var held = gate.HoldNextBatch();
        var blocker = db.WriteAsync(c => Sql.Insert(c, 0, 0));
        await held;

        // Ten writes queue up behind the held batch and so share the next one; the fifth inserts, then throws.
        var writes = Enumerable.Range(1, 10).Select(i => db.WriteAsync(c =>
        {
            Sql.Insert(c, i, 0);
            if (i == 5)
            {
                throw new InvalidOperationException("boom");
            }

            return i;
        })).ToList();
        gate.Release();
        await blocker;

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => writes[4]);
        Assert.Equal("boom", failure.Message);
        foreach (var write in writes.Where((_, index) => index != 4))
        {
            await write;
        }

        Assert.Contains(10, gate.BatchSizes);
        var producers = await db.ReadAsync(c => c.Query<long>("SELECT producer FROM log ORDER BY producer").ToList());
        Assert.Equal([0, 1, 2, 3, 4, 6, 7, 8, 9, 10], producers);
    }

    [Fact]
    public async Task WriteAsync_WhenTheCommitFails_FaultsExactlyThatBatchAndNoLaterSuccessIsReportedFirst()
    {
        var gate = new WriterGate();
        long failingBatch = -1;
        await using var db = await OpenAsync(gate, failCommit: n => n == Volatile.Read(ref failingBatch));
        var held = gate.HoldNextBatch();
        var blocker = db.WriteAsync(c => Sql.Insert(c, 0, 0));
        await held;
        // The blocker is batch 2 (batch 1 created the table); the next batch, 3, is the one whose COMMIT fails.
        Volatile.Write(ref failingBatch, 3);
        var doomed = Enumerable.Range(1, 10).Select(i => db.WriteAsync(c => Sql.Insert(c, i, 0))).ToList();

        held = gate.HoldNextBatch();
        gate.Release();
        await blocker;
        await held; // batch 3 is held at its start: queue the writes of batch 4 behind it
        var later = Enumerable.Range(11, 5).Select(i => db.WriteAsync(c => Sql.Insert(c, i, 0))
            .ContinueWith(t => (t.Status, doomedAllFaultedFirst: doomed.All(d => d.IsFaulted)), TaskScheduler.Default)).ToList();
        gate.Release();

        foreach (var write in doomed)
        {
            var error = await Assert.ThrowsAnyAsync<WaldenException>(() => write);
            Assert.Equal(19, error.SqliteErrorCode); // SQLITE_CONSTRAINT (commit hook): SQLite itself refused the COMMIT
        }

        foreach (var outcome in await Task.WhenAll(later))
        {
            Assert.Equal(TaskStatus.RanToCompletion, outcome.Status);
            Assert.True(outcome.doomedAllFaultedFirst);
        }

        var producers = await db.ReadAsync(c => c.Query<long>("SELECT producer FROM log ORDER BY producer").ToList());
        Assert.Equal([0, 11, 12, 13, 14, 15], producers);
    }

    [Fact]
    public async Task DisposeAsync_WithWritesInFlight_CommitsEveryAcceptedWriteAndRefusesLaterOnes()
    {
        var path = _dir.File("app.db");
        var db = await OpenAsync();
        var inFlight = Enumerable.Range(0, 5_000).Select(i => db.WriteAsync(c => Sql.Insert(c, i, 0))).ToList();

        var disposing = db.DisposeAsync();
        var refused = await Assert.ThrowsAsync<WaldenClosedException>(() => db.WriteAsync(c => Sql.Insert(c, -1, 0)));
        await disposing;
        await db.DisposeAsync(); // safe twice

        Assert.All(inFlight, t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));
        Assert.Contains("disposed", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<WaldenClosedException>(() => db.ReadAsync(c => 1));
        using var check = Sql.OpenDirect(path);
        Assert.Equal(5_000, check.Scalar<long>("SELECT count(*) FROM log"));
        Assert.Equal(0, new FileInfo(path + "-wal").Exists ? new FileInfo(path + "-wal").Length : 0); // checkpointed and truncated at close
    }

    [Fact]
    public async Task WriteAsync_WhenTheQueueIsFull_WaitsForRoomInsteadOfGrowing()
    {
        var gate = new WriterGate();
        await using var db = await OpenAsync(gate, configure: o => o.WriteQueueCapacity = 2);
        var held = gate.HoldNextBatch();
        var first = db.WriteAsync(c => Sql.Insert(c, 0, 0));
        await held;

        var queued = new[] { db.WriteAsync(c => Sql.Insert(c, 1, 0)), db.WriteAsync(c => Sql.Insert(c, 2, 0)) };
        var waiting = db.WriteAsync(c => Sql.Insert(c, 3, 0));
        Assert.Equal(2, db.WriteQueueDepth);
        Assert.False(waiting.IsCompleted);

        gate.Release();
        await Task.WhenAll([first, .. queued, waiting]);
        Assert.Equal(4, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")));
    }

    [Fact]
    public async Task WriteAsync_CancelledWhileQueued_IsWithdrawnAndNeverRuns()
    {
        var gate = new WriterGate();
        await using var db = await OpenAsync(gate);
        var held = gate.HoldNextBatch();
        var first = db.WriteAsync(c => Sql.Insert(c, 0, 0));
        await held;

        using var cancel = new CancellationTokenSource();
        var withdrawn = db.WriteAsync(c => Sql.Insert(c, 1, 0), cancel.Token);
        var kept = db.WriteAsync(c => Sql.Insert(c, 2, 0));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => withdrawn);
        gate.Release();
        await Task.WhenAll(first, kept);

        var producers = await db.ReadAsync(c => c.Query<long>("SELECT producer FROM log ORDER BY producer").ToList());
        Assert.Equal([0, 2], producers);
    }

    [Fact]
    public async Task WriteAsync_WorksWithDapperAndKeepsCachedCommandsPrepared()
    {
        await using var db = await OpenAsync();
        await db.WriteAsync(c => c.Execute("INSERT INTO log(producer, seq, body) VALUES (@p, @s, @b)", new { p = 7, s = 1, b = "dapper" }));
        var (same, body) = await db.WriteAsync(c =>
        {
            var a = c.GetCachedCommand("SELECT body FROM log WHERE producer = $p");
            var b = c.GetCachedCommand("SELECT body FROM log WHERE producer = $p");
            b.Parameters.AddWithValue("$p", 7);
            return (ReferenceEquals(a, b), (string)b.ExecuteScalar()!);
        });
        Assert.True(same);
        Assert.Equal("dapper", body);
    }

    [Fact]
    public async Task WriteAsync_WhenTheDelegateCommitsItself_FailsWithAnExplanation()
    {
        await using var db = await OpenAsync();
        var error = await Assert.ThrowsAsync<WaldenException>(() => db.WriteAsync(c => c.Exec("COMMIT")));
        Assert.Contains("Walden owns the transaction", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, await db.WriteAsync(c => Sql.Insert(c, 1, 1))); // and the writer goes on
    }
}
