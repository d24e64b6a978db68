using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Walden.Diagnostics;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Diagnostics;

public sealed class RepeatedFailureLogTests
{
    [Fact]
    public void IdenticalFailures_AreLoggedOnce_ThenOncePerIntervalWithTheirCount()
    {
        var logs = new ListLoggerFactory();
        var time = new FakeTimeProvider();
        var log = new RepeatedFailureLog(logs.CreateLogger("test"), time);

        for (var i = 0; i < 925; i++)
        {
            // Walden's message differs each time (free bytes); SQLite's does not: still the same failure.
            log.Failed(DiskFull($"{i} bytes free"), "A COMMIT", (l, e) => l.LogError(e, "A COMMIT failed"));
        }

        Assert.Single(logs.Lines);
        time.Advance(RepeatedFailureLog.Interval);
        log.Failed(DiskFull("again"), "A COMMIT", (l, e) => l.LogError(e, "A COMMIT failed"));

        Assert.Equal(2, logs.Lines.Count);
        Assert.Contains("925 times", logs.Lines.Last().Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ADifferentFailure_OrOneAfterASuccess_IsLoggedAtOnce()
    {
        var logs = new ListLoggerFactory();
        var log = new RepeatedFailureLog(logs.CreateLogger("test"), new FakeTimeProvider());

        log.Failed(DiskFull("x"), "A COMMIT", (l, e) => l.LogError(e, "first"));
        log.Failed(new WaldenException("an I/O error"), "A COMMIT", (l, e) => l.LogError(e, "second"));
        log.Succeeded();
        log.Failed(new WaldenException("an I/O error"), "A COMMIT", (l, e) => l.LogError(e, "third"));

        Assert.Equal(["first", "second", "third"], logs.Lines.Select(l => l.Message));
    }

    private static WaldenDiskFullException DiskFull(string detail) =>
        new($"The disk is full; {detail}.", 13, 13, new SqliteException("database or disk is full", 13, 13));
}
