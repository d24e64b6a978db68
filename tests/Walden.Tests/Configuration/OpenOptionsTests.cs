using System.Diagnostics.Metrics;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Configuration;

public sealed class OpenOptionsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task OpenAsync_WithMustExist_RefusesAMissingFileAndCreatesNothing()
    {
        var typo = _dir.File("ordres.db");

        var error = await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenDatabase.OpenAsync(typo, new WaldenOptions { MustExist = true }));

        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains("MustExist", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(typo));
    }

    [Fact]
    public async Task OpenAsync_WithMustExist_OpensAnExistingFile()
    {
        var path = _dir.File("app.db");
        await (await WaldenDatabase.OpenAsync(path)).DisposeAsync();

        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { MustExist = true });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
    }

    [Fact]
    public async Task OpenAsync_WithIntegrityCheckNone_DoesNotLogACheckThatDidNotRun()
    {
        var logs = new ListLoggerFactory();

        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { IntegrityCheck = WaldenIntegrityCheck.None, LoggerFactory = logs });

        Assert.DoesNotContain(logs.Lines, l => l.Message.Contains("Integrity check", StringComparison.Ordinal));
        Assert.Null(db.LastIntegrityCheck);
    }

    [Theory]
    [InlineData("writer")]
    [InlineData("checkpointer")]
    [InlineData("backups")]
    [InlineData("opened")]
    public async Task OpenAsync_ThatFailsPartWay_UndoesEverythingItStarted(string failAt)
    {
        var path = _dir.File("app.db");
        WaldenDatabase? started = null;
        var options = new WaldenOptions
        {
            Name = "failing-open",
            OpenFault = (step, db) =>
            {
                started = db;
                if (step == failAt)
                {
                    throw new InvalidOperationException("injected");
                }
            },
        };

        await Assert.ThrowsAsync<InvalidOperationException>(() => WaldenDatabase.OpenAsync(path, options));

        Assert.NotNull(started);
        Assert.True(started.WriterCompletion.IsCompleted, "The writer loop must have ended.");
        Assert.True(started.CheckpointerStopped, "The checkpointer loop must have ended.");
        Assert.Null(Walden.Files.LockProbe.FindHolder(path)); // not registered as open, no connection holds it
        Assert.DoesNotContain("failing-open", ReportedDatabases());
        await using var again = await WaldenDatabase.OpenAsync(path); // nothing left behind blocks a new open
    }

    [Fact]
    public async Task DisposeAsync_WithAReadStuckInSqlite_InterruptsItAfterCloseReadTimeout()
    {
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { CloseReadTimeout = TimeSpan.FromMilliseconds(200) });
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stuck = db.ReadAsync(c =>
        {
            running.SetResult();
            return c.Scalar<long>("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"); // never ends
        });
        await running.Task;

        await db.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20));

        var error = await Assert.ThrowsAsync<WaldenReadLeaseExpiredException>(() => stuck);
        Assert.Contains("CloseReadTimeout", error.Message, StringComparison.Ordinal);
    }

    private static List<string> ReportedDatabases()
    {
        var names = new List<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Walden")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) => Collect(tags));
        listener.SetMeasurementEventCallback<int>((_, _, tags, _) => Collect(tags));
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) => Collect(tags));
        listener.Start();
        listener.RecordObservableInstruments();
        return names;

        void Collect(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Value is string value)
                {
                    names.Add(value);
                }
            }
        }
    }
}
