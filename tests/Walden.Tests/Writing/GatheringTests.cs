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

        Assert.Equal((64, oneMs / 4), GroupCommitWriter.GatherBudget(64, oneMs, 1000));
        Assert.Equal((1000, oneMs / 4), GroupCommitWriter.GatherBudget(5000, oneMs, 1000)); // never more than a batch holds
        Assert.Equal((64, GroupCommitWriter.MaxGatherTicks), GroupCommitWriter.GatherBudget(64, 1000 * oneMs, 1000)); // a slow commit does not mean a long wait
    }

    [Theory]
    [InlineData(1, 1000)]  // one producer: its next write is the only one coming, never wait
    [InlineData(0, 1000)]  // nothing acknowledged (first batch, or the commit failed)
    [InlineData(64, 0)]    // no commit time known
    public void GatherBudget_WhenNothingIsWorthWaitingFor_DoesNotWait(int acknowledged, long commitTicks)
    {
        Assert.Equal((0, 0L), GroupCommitWriter.GatherBudget(acknowledged, commitTicks, 1000));
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
