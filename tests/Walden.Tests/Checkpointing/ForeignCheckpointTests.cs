using System.Diagnostics;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Checkpointing;

/// <summary>A process that is not Walden's checkpointing the same WAL (issue 15 item 1).</summary>
public sealed class ForeignCheckpointTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// Holds SQLite's checkpoint lock (byte 121 of the -shm: WAL_CKPT_LOCK) as a checkpoint of another process does while it
    /// runs, until its stdin closes.
    /// </summary>
    private const string HoldCheckpointLock = """
        import fcntl, os, sys
        fd = os.open(sys.argv[1] + "-shm", os.O_RDWR)
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 121)
        print("locked", flush=True)
        sys.stdin.read()
        """;

    [Fact]
    public async Task WhileAnotherProcessCheckpoints_WaldenWaitsForMoreWal_InsteadOfRetryingAtEveryCommit()
    {
        var path = _dir.File("shared.db");
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions
        {
            WalSizeLimit = 1024 * 1024, // PASSIVE every 31 frames
            Durability = WaldenDurability.Normal,
        });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)"));
        using var holder = StartLockHolder(path);

        const int Commits = 400;
        for (var i = 0; i < Commits; i++)
        {
            await db.WriteAsync(c => c.Exec("INSERT INTO t(v) VALUES (randomblob(1500))")); // a frame or two per commit
            await db.Checkpointer.EvaluateAsync(); // the scheduler's decision after every commit, deterministically
        }

        var stats = await db.GetStatsAsync();
        holder.StandardInput.Close();
        await holder.WaitForExitAsync();

        // Every attempt found the other checkpoint running. Retrying at each commit would make about one attempt per commit;
        // waiting for another PASSIVE interval of WAL makes one per 31 frames (plus the RESTARTs, which back off).
        Assert.True(stats.Checkpoints > 0);
        Assert.True(stats.Checkpoints < Commits / 4, $"{stats.Checkpoints} checkpoint attempts for {Commits} commits");
        Assert.True(stats.LastCheckpoint!.Busy);
    }

    private static Process StartLockHolder(string path)
    {
        var info = new ProcessStartInfo(ForeignProgram.Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(HoldCheckpointLock);
        info.ArgumentList.Add(path);
        var process = Process.Start(info)!;
        var line = process.StandardOutput.ReadLine();
        return line == "locked" ? process : throw new InvalidOperationException($"the lock holder failed: {process.StandardError.ReadToEnd()}");
    }
}
