using Walden.Cli.Torture;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Torture;

/// <summary>The checker must be able to fail: each kind of damage planted by hand is counted.</summary>
public sealed class TortureCheckerTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Check_OfAnIntactDatabase_FindsNothing()
    {
        var path = await CreateAsync(worker: 1, count: 50);

        var result = TortureChecker.Check(path, new Dictionary<long, long[]> { [1] = [.. Enumerable.Range(0, 50).Select(i => (long)i)] });

        Assert.True(result.Clean, string.Join("; ", result.Problems));
        Assert.Equal(50, result.Rows);
    }

    [Fact]
    public async Task Check_CountsLostDuplicateAndDamagedRecordsSeparately()
    {
        var path = await CreateAsync(worker: 1, count: 50);
        using (var connection = Sql.OpenDirect(path))
        {
            connection.Exec("DELETE FROM torture_record WHERE seq IN (3, 4)");                                  // two acknowledged writes lost
            connection.Exec("INSERT INTO torture_record(worker, seq, payload, checksum) SELECT worker, seq, payload, checksum FROM torture_record WHERE seq = 7"); // one duplicate
            connection.Exec("UPDATE torture_record SET payload = x'00' WHERE seq = 9");                         // one damaged
        }

        var result = TortureChecker.Check(path, new Dictionary<long, long[]> { [1] = [.. Enumerable.Range(0, 50).Select(i => (long)i)] });

        Assert.False(result.Clean);
        Assert.True(result.IntegrityOk);
        Assert.Equal(2, result.Lost);
        Assert.Equal(1, result.Duplicates);
        Assert.Equal(1, result.Damaged);
    }

    [Fact]
    public async Task Check_IgnoresUnacknowledgedRecordsThatAreIntact()
    {
        var path = await CreateAsync(worker: 1, count: 20);

        // Only the first ten were acknowledged; the rest committed but their ack never arrived: allowed.
        var result = TortureChecker.Check(path, new Dictionary<long, long[]> { [1] = [.. Enumerable.Range(0, 10).Select(i => (long)i)] });

        Assert.True(result.Clean, string.Join("; ", result.Problems));
    }

    [Fact]
    public async Task WorkerProcess_CountsOnlyCompleteLines_NotALineCutByTheKill()
    {
        // A stand-in worker that prints two acks and a third one cut short (no newline), as a kill mid-write would leave it.
        var launch = new WorkerLaunch("/bin/sh", ["-c", "printf 'ready\\na 1\\na 2\\na 3'", "sh"]);
        using var worker = WorkerProcess.Start(launch, _dir.File("unused.db"), 1, WorkerRole.Writer, 1, WaldenDurability.Full);

        var (exitCode, _, _) = await worker.WaitForExitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(0, exitCode);
        Assert.Equal([1L, 2L], worker.AcksSnapshot());
        Assert.Equal(3, worker.PartialBytes);
        Assert.True(worker.Ready.IsCompletedSuccessfully);
    }

    private async Task<string> CreateAsync(long worker, int count)
    {
        var path = _dir.File("torture.db");
        await using var db = await WaldenDatabase.OpenAsync(path);
        await db.WriteAsync(c => c.Exec(TortureRecord.Schema));
        var random = new Random(1);
        for (var seq = 0L; seq < count; seq++)
        {
            var payload = TortureRecord.NewPayload(random);
            var checksum = TortureRecord.Checksum(worker, seq, payload);
            var s = seq;
            await db.WriteAsync(c =>
            {
                var insert = c.GetCachedCommand(TortureRecord.Insert);
                insert.Parameters.AddWithValue("$worker", worker);
                insert.Parameters.AddWithValue("$seq", s);
                insert.Parameters.AddWithValue("$payload", payload);
                insert.Parameters.AddWithValue("$checksum", checksum);
                return insert.ExecuteNonQuery();
            });
        }

        return path;
    }
}
