using Dapper;
using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Writing;

/// <summary>
/// A transaction that ends inside a batch (SQLite rolls it back after SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM; a delegate
/// runs COMMIT or ROLLBACK) is reported as it ended: committed writes succeed, rolled-back ones fail as not committed with
/// the typed error, and the writes after them go on in a new transaction.
/// </summary>
public sealed class EndedTransactionTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60); // a safety net only: every wait below completes at once

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private sealed record Outcome(int Producer, Exception? Error);

    /// <summary>Opens a database, holds the writer, and queues <paramref name="count"/> writes that share one batch; write <paramref name="culprit"/> runs <paramref name="misbehave"/>.</summary>
    private async Task<(WaldenDatabase Db, List<Outcome> Outcomes)> RunBatchAsync(int count, int culprit, Action<SqliteConnection> misbehave,
        Action<SqliteConnection>? setUp = null)
    {
        var gate = new WriterGate();
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { Faults = gate.Faults() });
        await db.WriteAsync(c =>
        {
            c.Exec(Sql.LogTable);
            setUp?.Invoke(c);
        }).WaitAsync(Bound);
        var held = gate.HoldNextBatch();
        var blocker = db.WriteAsync(c => Sql.Insert(c, 0, 0));
        await held.WaitAsync(Bound);

        var writes = Enumerable.Range(1, count).Select(i => db.WriteAsync(c =>
        {
            Sql.Insert(c, i, 0);
            if (i == culprit)
            {
                misbehave(c);
            }
        })).ToList();
        gate.Release();
        await blocker.WaitAsync(Bound);
        var outcomes = new List<Outcome>();
        for (var i = 0; i < count; i++)
        {
            try
            {
                await writes[i].WaitAsync(Bound);
                outcomes.Add(new Outcome(i + 1, null));
            }
            catch (Exception ex) when (ex is not TimeoutException)
            {
                outcomes.Add(new Outcome(i + 1, ex));
            }
        }

        Assert.Contains(count, gate.BatchSizes); // they did share one batch
        return (db, outcomes);
    }

    private static async Task AssertStoredExactlyTheSucceededAsync(WaldenDatabase db, List<Outcome> outcomes, params int[] alsoStored)
    {
        var stored = await db.ReadAsync(c => c.Query<int>("SELECT producer FROM log WHERE producer > 0 ORDER BY producer").ToList()).WaitAsync(Bound);
        Assert.Equal(outcomes.Where(o => o.Error is null).Select(o => o.Producer).Concat(alsoStored).Order(), stored);
    }

    [Fact]
    public async Task WriteAsync_WhenADelegateCommitsWith32WritesInFlight_TheWritesBeforeItAreReportedCommittedAndTheRestGoOn()
    {
        var (db, outcomes) = await RunBatchAsync(32, culprit: 17, c => c.Exec("COMMIT"));
        await using var _ = db;

        Assert.All(outcomes.Where(o => o.Producer != 17), o => Assert.Null(o.Error));
        var misuse = Assert.IsType<WaldenException>(outcomes[16].Error);
        Assert.Contains("Walden owns the transaction", misuse.Message, StringComparison.Ordinal);
        Assert.Contains("committed", misuse.Message, StringComparison.Ordinal);
        await AssertStoredExactlyTheSucceededAsync(db, outcomes, alsoStored: 17); // its insert before its COMMIT was committed, as it is told
    }

    [Fact]
    public async Task WriteAsync_WhenADelegateRollsBack_TheWritesBeforeItFailAsNotCommittedAndTransientAndTheRestGoOn()
    {
        var (db, outcomes) = await RunBatchAsync(32, culprit: 17, c => c.Exec("ROLLBACK"));
        await using var _ = db;

        foreach (var before in outcomes.Take(16))
        {
            var error = Assert.IsType<WaldenException>(before.Error);
            Assert.Contains("Not committed", error.Message, StringComparison.Ordinal);
            Assert.True(error.IsTransient);
        }

        Assert.Contains("Walden owns the transaction", outcomes[16].Error!.Message, StringComparison.Ordinal);
        Assert.All(outcomes.Skip(17), o => Assert.Null(o.Error));
        await AssertStoredExactlyTheSucceededAsync(db, outcomes);
    }

    [Theory]
    [InlineData("COMMIT; BEGIN")]   // ends Walden's transaction and leaves one of its own open
    [InlineData("ROLLBACK; BEGIN")]
    [InlineData("END")]
    public async Task WriteAsync_WhenADelegateEndsTheTransactionAnyOtherWay_EveryReportedOutcomeIsTrue(string statements)
    {
        var (db, outcomes) = await RunBatchAsync(8, culprit: 4, c => c.Exec(statements));
        await using var _ = db;

        Assert.NotNull(outcomes[3].Error);
        Assert.All(outcomes.Skip(4), o => Assert.Null(o.Error));
        var committedByCulprit = statements.StartsWith("ROLLBACK", StringComparison.Ordinal) ? Array.Empty<int>() : [4];
        await AssertStoredExactlyTheSucceededAsync(db, outcomes, committedByCulprit);
    }

    [Theory]
    [InlineData("CREATE TABLE users(email TEXT UNIQUE ON CONFLICT ROLLBACK)", "INSERT INTO users VALUES ('a@x')")]
    [InlineData("CREATE TABLE users(email TEXT UNIQUE)", "INSERT OR ROLLBACK INTO users VALUES ('a@x')")]
    [InlineData("CREATE TABLE users(email TEXT); CREATE TRIGGER no_dup BEFORE INSERT ON users " +
        "WHEN EXISTS (SELECT 1 FROM users WHERE email = NEW.email) BEGIN SELECT RAISE(ROLLBACK, 'duplicate email'); END",
        "INSERT INTO users VALUES ('a@x')")]
    [InlineData("CREATE TABLE users(email TEXT NOT NULL ON CONFLICT ROLLBACK); CREATE TABLE users_src(email TEXT)",
        "INSERT INTO users SELECT NULL")]
    public async Task WriteAsync_WhenAStatementRollsBackTheWholeTransaction_OthersFailTransientTheCulpritIsToldWhyAndItsFallbackIsNotCommitted(
        string schema, string conflicting)
    {
        // The classic "try the INSERT, on a constraint error record the duplicate" of an Android-era schema, where the
        // constraint (or trigger, or the statement itself) says ROLLBACK: SQLite rolls back Walden's whole transaction.
        var fallbackRan = false;
        var (db, outcomes) = await RunBatchAsync(8, culprit: 4, c =>
        {
            try
            {
                c.Exec(conflicting);
            }
            catch (SqliteException)
            {
                fallbackRan = true;
                c.Exec("INSERT INTO dup_log VALUES ('a@x')"); // after the rollback: autocommit mode, outside Walden's transaction
            }
        }, setUp: c => c.Exec($"{schema}; CREATE TABLE dup_log(email TEXT); INSERT INTO users VALUES ('a@x')"));
        await using (db)
        {
            Assert.True(fallbackRan);
            foreach (var before in outcomes.Take(3))
            {
                var error = Assert.IsType<WaldenException>(before.Error);
                Assert.Contains("Not committed", error.Message, StringComparison.Ordinal);
                Assert.Contains("ON CONFLICT ROLLBACK", error.Message, StringComparison.Ordinal);
                Assert.True(error.IsTransient); // they did nothing wrong: a retry writes them once
            }

            var culprit = Assert.IsType<WaldenException>(outcomes[3].Error);
            Assert.DoesNotContain("ran COMMIT", culprit.Message, StringComparison.Ordinal);
            Assert.Contains(conflicting, culprit.Message, StringComparison.Ordinal);
            Assert.Contains("ON CONFLICT ROLLBACK", culprit.Message, StringComparison.Ordinal);
            Assert.Contains("was refused: none of it was committed", culprit.Message, StringComparison.Ordinal);
            Assert.All(outcomes.Skip(4), o => Assert.Null(o.Error));
            await AssertStoredExactlyTheSucceededAsync(db, outcomes);
        }

        // What the file holds, read by the sqlite3 shell: no fallback row of a write reported failed, one user.
        using var shell = new SqliteShell(_dir.File("app.db"));
        Assert.Equal("0", (await shell.RunAsync("SELECT count(*) FROM dup_log;")).Trim());
        Assert.Equal("1", (await shell.RunAsync("SELECT count(*) FROM users;")).Trim());
        Assert.Equal("4", (await shell.RunAsync("SELECT count(*) FROM log WHERE producer > 0;")).Trim()); // the 4 after the culprit
    }

    [Theory]
    [InlineData("COMMIT")]
    [InlineData("ROLLBACK")]
    public async Task WriteAsync_WhenADelegateWritesAfterEndingTheTransaction_ThatWriteIsRefusedNotCommitted(string end)
    {
        var (db, outcomes) = await RunBatchAsync(4, culprit: 2, c =>
        {
            c.Exec(end);
            Sql.Insert(c, 99, 0); // autocommit mode now: would be committed behind the back of a write reported failed
        });
        await using (db)
        {
            var culprit = Assert.IsType<WaldenException>(outcomes[1].Error);
            Assert.Contains("Walden owns the transaction", culprit.Message, StringComparison.Ordinal);
            Assert.All(outcomes.Skip(2), o => Assert.Null(o.Error));
        }

        using var shell = new SqliteShell(_dir.File("app.db"));
        Assert.Equal("0", (await shell.RunAsync("SELECT count(*) FROM log WHERE producer = 99;")).Trim());
    }

    [Theory]
    [InlineData("INSERT INTO filler(b) VALUES (randomblob(200000))", true)] // one row: SQLite rolls back the whole transaction
    [InlineData("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 40) " +
        "INSERT INTO filler(b) SELECT randomblob(5000) FROM s", false)] // many rows (a statement journal): only the statement
    [InlineData("CREATE TABLE t2(x); WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 40) " +
        "INSERT INTO t2 SELECT randomblob(5000) FROM s", false)]
    public async Task WriteAsync_WhenTheDiskFillsMidBatch_EveryReportedOutcomeIsTrueAndLaterWritesCommit(string fill, bool wholeTransaction)
    {
        // PRAGMA max_page_count is SQLite's own quota: past it, SQLite fails with SQLITE_FULL exactly as on a full disk.
        var (db, outcomes) = await RunBatchAsync(16, culprit: 8, c => c.Exec(fill), setUp: c =>
        {
            c.Exec("CREATE TABLE filler(b BLOB)");
            var pages = c.Scalar<long>("PRAGMA page_count");
            c.Exec($"PRAGMA max_page_count = {pages + 20}");
        });
        await using var _ = db;

        // SQLITE_FULL, typed (WaldenDiskFullException) when it took the transaction with it, else as the delegate threw it.
        Assert.Equal(13, outcomes[7].Error switch { WaldenException w => w.SqliteErrorCode, SqliteException s => s.SqliteErrorCode, _ => null });
        foreach (var before in wholeTransaction ? outcomes.Take(8) : [])
        {
            // SQLite rolled the whole transaction back: the writes before the full one say so, with the same type.
            var error = Assert.IsType<WaldenDiskFullException>(before.Error);
            Assert.Contains("Not committed", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("may or may not", error.Message, StringComparison.Ordinal);
            Assert.False(error.IsTransient);
        }

        Assert.All(wholeTransaction ? [] : outcomes.Take(7), o => Assert.Null(o.Error)); // only the statement was undone

        Assert.All(outcomes.Skip(8), o => Assert.Null(o.Error)); // a new transaction, with room for small rows
        await AssertStoredExactlyTheSucceededAsync(db, outcomes);
        Assert.Equal(1, await db.WriteAsync(c => Sql.Insert(c, 100, 0)).WaitAsync(Bound));
    }

    [Theory]
    [InlineData(10, 266, false)] // SQLITE_IOERR_READ
    [InlineData(10, 4874, false)] // SQLITE_IOERR_SHMSIZE
    [InlineData(7, 7, false)] // SQLITE_NOMEM
    [InlineData(5, 5, true)] // SQLITE_BUSY (an attached database): transient
    public async Task WriteAsync_WhenSqliteRollsBackTheTransactionOnAnError_TheWritesBeforeItFailAsNotCommittedWithThatCode(int code, int extended, bool transient)
    {
        // What SQLite leaves behind after an I/O error or out of memory in a statement: the transaction rolled back, and the error.
        var (db, outcomes) = await RunBatchAsync(12, culprit: 6, c =>
        {
            c.Exec("ROLLBACK");
            throw new SqliteException($"injected error {extended}", code, extended);
        });
        await using var _ = db;

        foreach (var failed in outcomes.Take(6))
        {
            var error = Assert.IsAssignableFrom<WaldenException>(failed.Error);
            Assert.Equal(code, error.SqliteErrorCode);
            Assert.Equal(extended, error.SqliteExtendedErrorCode);
            Assert.Contains("Not committed", error.Message, StringComparison.Ordinal);
            Assert.Equal(transient, error.IsTransient);
        }

        Assert.All(outcomes.Skip(6), o => Assert.Null(o.Error));
        await AssertStoredExactlyTheSucceededAsync(db, outcomes);
    }

    [Fact]
    public async Task WriteAsync_WhenTheCommitFails_ReportsTheWritesAsNotAcknowledgedNeverAsNotWritten()
    {
        var gate = new WriterGate();
        long failingBatch = -1;
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { Faults = gate.Faults(n => n == Volatile.Read(ref failingBatch)) });
        await using var _ = db;
        await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);
        var held = gate.HoldNextBatch();
        var blocker = db.WriteAsync(c => Sql.Insert(c, 0, 0));
        await held.WaitAsync(Bound);
        Volatile.Write(ref failingBatch, 3);
        var doomed = Enumerable.Range(1, 4).Select(i => db.WriteAsync(c => Sql.Insert(c, i, 0))).ToList();
        gate.Release();
        await blocker.WaitAsync(Bound);

        foreach (var write in doomed)
        {
            var error = await Assert.ThrowsAnyAsync<WaldenException>(() => write.WaitAsync(Bound));
            Assert.Contains("not acknowledged", error.Message, StringComparison.Ordinal);
            Assert.Contains("may or may not be on disk", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("not committed", error.Message, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("Nothing", error.Message, StringComparison.Ordinal);
            Assert.False(error.IsTransient);
        }
    }
}
