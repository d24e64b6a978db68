using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Writing;

/// <summary>
/// A write delegate that changes the state of the writer's connection (leaves a statement running, changes a pragma Walden
/// relies on, closes the connection, starts a checkpoint) fails alone with a message that names what it did; the writes
/// batched with it and every later write are not blamed for it, and nothing is committed behind a reported failure.
/// </summary>
public sealed class WriterConnectionStateTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60); // a safety net only: every wait below completes at once

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Holds the writer, queues <paramref name="culprit"/> between two innocent inserts (one batch), and returns the three outcomes.</summary>
    private static async Task<Exception?[]> RunInOneBatchAsync(WaldenDatabase db, WriterGate gate, Action<SqliteConnection> culprit)
    {
        var held = gate.HoldNextBatch();
        var blocker = db.WriteAsync(c => Sql.Insert(c, 0, 0));
        await held.WaitAsync(Bound);
        var writes = new[]
        {
            db.WriteAsync(c => Sql.Insert(c, 1, 0)),
            db.WriteAsync(c => { Sql.Insert(c, 2, 0); culprit(c); }),
            db.WriteAsync(c => Sql.Insert(c, 3, 0)),
        };
        gate.Release();
        await blocker.WaitAsync(Bound);
        var outcomes = new Exception?[writes.Length];
        for (var i = 0; i < writes.Length; i++)
        {
            try
            {
                await writes[i].WaitAsync(Bound);
            }
            catch (Exception ex) when (ex is not TimeoutException)
            {
                outcomes[i] = ex;
            }
        }

        return outcomes;
    }

    private async Task<string> CountAsync(string where)
    {
        using var shell = new SqliteShell(_dir.File("app.db"));
        return (await shell.RunAsync($"SELECT count(*) FROM log WHERE {where};")).Trim();
    }

    [Theory]
    [InlineData("INSERT INTO log(producer, seq) VALUES (2, 1) RETURNING id", true)]
    [InlineData("UPDATE log SET body = 'y' WHERE producer = 2 RETURNING id", true)]
    [InlineData("DELETE FROM log WHERE producer = 0 RETURNING id", true)]
    [InlineData("SELECT id FROM log", false)] // harmless: only reset
    public async Task WriteAsync_WhenADelegateLeavesAReaderOpen_OnlyThatWriteFailsNamingItAndLaterWritesCommit(string sql, bool writes)
    {
        var gate = new WriterGate();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { Faults = gate.Faults() }))
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);
            var outcomes = await RunInOneBatchAsync(db, gate, c =>
            {
                var command = c.CreateCommand();
                command.CommandText = sql;
                var reader = command.ExecuteReader(); // never disposed: the slip
                reader.Read();
            });

            Assert.Null(outcomes[0]);
            Assert.Null(outcomes[2]);
            if (writes)
            {
                var error = Assert.IsType<WaldenException>(outcomes[1]);
                Assert.Contains("data reader open", error.Message, StringComparison.Ordinal);
                Assert.Contains(sql, error.Message, StringComparison.Ordinal);
                Assert.Contains("not committed", error.Message, StringComparison.Ordinal);
                Assert.False(error.IsTransient);
            }
            else
            {
                Assert.Null(outcomes[1]);
            }

            for (var i = 10; i < 13; i++)
            {
                Assert.Equal(1, await db.WriteAsync(c => Sql.Insert(c, i, 0)).WaitAsync(Bound)); // later writes are not blamed
            }
        }

        Assert.Equal(writes ? "0" : "1", await CountAsync("producer = 2"));
        Assert.Equal("1", await CountAsync("producer = 0")); // the DELETE ... RETURNING was rolled back with its write
        Assert.Equal("5", await CountAsync("producer IN (1, 3, 10, 11, 12)"));
    }

    [Theory]
    [InlineData("PRAGMA query_only=1")]
    [InlineData("PRAGMA query_only = ON")]
    [InlineData("PRAGMA main.query_only(true)")]
    [InlineData("PRAGMA synchronous=OFF")]
    [InlineData("PRAGMA wal_autocheckpoint=1000")]
    [InlineData("PRAGMA locking_mode=EXCLUSIVE")]
    [InlineData("PRAGMA busy_timeout=0")]
    [InlineData("PRAGMA journal_mode=DELETE")]
    public async Task WriteAsync_WhenADelegateChangesASettingWaldenReliesOn_ThatWriteFailsNamingItAndLaterWritesCommit(string pragma)
    {
        var gate = new WriterGate();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { Faults = gate.Faults() }))
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);
            var outcomes = await RunInOneBatchAsync(db, gate, c => c.Exec(pragma));

            Assert.Null(outcomes[0]);
            Assert.Null(outcomes[2]);
            var error = Assert.IsType<WaldenException>(outcomes[1]);
            Assert.Contains("Walden refused it", error.Message, StringComparison.Ordinal);
            Assert.Contains("not committed", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("permission", error.Message, StringComparison.OrdinalIgnoreCase);

            // The same pragma caught and ignored by the delegate: still refused, the write still fails.
            var swallowed = await Assert.ThrowsAsync<WaldenException>(() => db.WriteAsync(c =>
            {
                Sql.Insert(c, 4, 0);
                try
                {
                    c.Exec(pragma);
                }
                catch (SqliteException)
                {
                }
            }).WaitAsync(Bound));
            Assert.Contains("Walden refused it", swallowed.Message, StringComparison.Ordinal);

            for (var i = 10; i < 13; i++)
            {
                Assert.Equal(1, await db.WriteAsync(c => Sql.Insert(c, i, 0)).WaitAsync(Bound)); // the writer kept its settings
            }

            Assert.Equal(0L, await db.ReadAsync(c => c.Scalar<long>("SELECT 0")).WaitAsync(Bound));
            Assert.Equal(1L, await db.WriteAsync(c => c.Scalar<long>("PRAGMA wal_autocheckpoint") == 0 ? 1L : 0L).WaitAsync(Bound)); // reading is allowed
        }

        Assert.Equal("0", await CountAsync("producer IN (2, 4)"));
        Assert.Equal("5", await CountAsync("producer IN (1, 3, 10, 11, 12)"));
    }

    [Theory]
    [InlineData(WaldenCheckpointMode.Passive)]
    [InlineData(WaldenCheckpointMode.Full)]
    [InlineData(WaldenCheckpointMode.Restart)]
    [InlineData(WaldenCheckpointMode.Truncate)]
    public async Task CheckpointAsync_FromInsideAWriteDelegate_IsRefusedAtOnceAndTheWriteCompletes(WaldenCheckpointMode mode)
    {
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db")))
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);
            InvalidOperationException? refused = null;
            await db.WriteAsync(c =>
            {
                Sql.Insert(c, 1, 0);
                refused = Assert.Throws<InvalidOperationException>(() => db.CheckpointAsync(mode).GetAwaiter().GetResult());
            }).WaitAsync(Bound);
            Assert.Contains("inside a write delegate", refused!.Message, StringComparison.Ordinal);

            // From work the delegate started on another thread, too.
            var fromTask = await Assert.ThrowsAsync<InvalidOperationException>(() => db.WriteAsync(c =>
                Task.Run(() => db.CheckpointAsync(mode).GetAwaiter().GetResult()).GetAwaiter().GetResult()).WaitAsync(Bound));
            Assert.Contains("inside a write delegate", fromTask.Message, StringComparison.Ordinal);
            Assert.False((await db.CheckpointAsync(mode).WaitAsync(Bound)).Busy); // after the write: allowed
        }

        Assert.Equal("1", await CountAsync("producer = 1"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WriteAsync_WhenADelegateClosesTheConnection_EveryWriteFailsNamingItAndDisposeAsyncCompletes(bool dispose)
    {
        var gate = new WriterGate();
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { Faults = gate.Faults() });
        try
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);
            var outcomes = await RunInOneBatchAsync(db, gate, c =>
            {
                if (dispose)
                {
                    c.Dispose();
                }
                else
                {
                    c.Close();
                }
            });

            var culprit = Assert.IsAssignableFrom<WaldenException>(outcomes[1]);
            Assert.Contains("closed the connection Walden gave it", culprit.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("SafeHandle", culprit.Message, StringComparison.Ordinal);
            Assert.NotNull(outcomes[0]); // the batch was rolled back with the connection: never reported committed
            var later = await Assert.ThrowsAnyAsync<WaldenException>(() => db.WriteAsync(c => Sql.Insert(c, 9, 0)).WaitAsync(Bound));
            Assert.Contains("closed the connection Walden gave it", later.Message, StringComparison.Ordinal);
        }
        finally
        {
            await db.DisposeAsync().AsTask().WaitAsync(Bound); // completes, does not throw
        }

        // The closed connection's last statements are finalized by now or by the finalizers: its final close (a rollback)
        // must not call a hook whose registration went with the handle (that crashed the test host in CI).
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.Equal("0", await CountAsync("producer > 0"));
        await using var reopened = await WaldenDatabase.OpenAsync(_dir.File("app.db")); // nothing left locked
        Assert.Equal(1, await reopened.WriteAsync(c => Sql.Insert(c, 20, 0)).WaitAsync(Bound));
    }
}
