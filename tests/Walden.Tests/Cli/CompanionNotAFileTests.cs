using System.Diagnostics;
using Walden.Backup;
using Walden.Integrity;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// A -wal, -shm or -journal that is there but no regular file (a folder a tool or a mistyped backup left, a named pipe) keeps
/// SQLite from using the database: opening fails with a bare "unable to open database file" or "disk I/O error", and a pipe
/// as the -journal blocks every open. Every command, and the engine's open, refuses the database up front naming that file:
/// exit 2, nothing changed. Found by a breaker: with 'app.db-wal' a folder, check and info said only "unable to open database
/// file", and the doctor answered "no danger" with "a -wal of 0 B".
/// </summary>
public sealed class CompanionNotAFileTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string, bool> Cases => new()
    {
        { "-wal", "a directory, not SQLite's write-ahead log", true },
        { "-shm", "a directory, not SQLite's shared-memory index", true },
        { "-journal", "a directory, not SQLite's rollback journal", false },
        { "-journal", "a FIFO (named pipe), not SQLite's rollback journal", true },
        { "-wal", "a FIFO (named pipe), not SQLite's write-ahead log", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task EveryCommand_RefusesADatabaseWhoseCompanionIsNoFile_NamingIt_AndChangesNothing(string suffix, string says, bool wal)
    {
        var database = await DatabaseAsync(wal);
        var backup = (await WaldenBackups.BackupAsync(database, _dir.File("bk"))).Path;
        var companion = Make(database + suffix, says);
        var before = FolderListing.Of(_dir.Path);

        foreach (var arguments in new[]
        {
            new[] { "check", database }, ["check", database, "--full"], ["info", database], ["stats", database], ["doctor", database],
            ["checkpoint", database], ["backup", database, _dir.File("new-backups")], ["recover", database, "--output", _dir.File("out.db")],
            ["recover", database, "--in-place"], ["restore", backup, database],
        })
        {
            var (exit, stdout, stderr) = await RunWithinLimitAsync(arguments);

            var what = string.Join(' ', arguments);
            Assert.True(exit == 2, $"{what}: exit {exit}: {stdout} {stderr}");
            Assert.True(stderr.Contains($"'{companion}' is {says}", StringComparison.Ordinal), $"{what}: {stderr}");
            Assert.True(stderr.Contains("Nothing was changed", StringComparison.Ordinal) && stderr.Contains("Move it aside", StringComparison.Ordinal),
                $"{what}: {stderr}");
            Assert.True(before.SequenceEqual(FolderListing.Of(_dir.Path)), $"{what} changed the folder");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task TheEngine_RefusesADatabaseWhoseCompanionIsNoFile_WithATypedError(string suffix, string says, bool wal)
    {
        var database = await DatabaseAsync(wal);
        var companion = Make(database + suffix, says);
        var before = FolderListing.Of(_dir.Path);

        var open = Task.Run(() => WaldenDatabase.OpenAsync(database));
        var check = Task.Run(() => WaldenIntegrity.CheckFile(database));
        Assert.Same(open, await Task.WhenAny(open, Task.Delay(Limit)));
        Assert.Same(check, await Task.WhenAny(check, Task.Delay(Limit)));

        var error = await Assert.ThrowsAsync<WaldenConfigurationException>(() => open);
        Assert.Contains($"'{companion}' is {says}", error.Message, StringComparison.Ordinal);
        Assert.Equal(WaldenFileStatus.CannotCheck, (await check).Status);
        Assert.Contains($"'{companion}' is {says}", string.Join(" ", (await check).Findings), StringComparison.Ordinal);
        Assert.True(before.SequenceEqual(FolderListing.Of(_dir.Path)));
    }

    /// <summary>A closed database as Python's sqlite3 leaves it: in WAL mode (no -wal or -shm left) or rollback mode.</summary>
    private async Task<string> DatabaseAsync(bool wal)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); " +
            $"c.execute('PRAGMA journal_mode={(wal ? "wal" : "delete")}'); c.execute('CREATE TABLE t(x)'); c.execute('INSERT INTO t VALUES (1)'); c.close()",
            path);
        return path;
    }

    private static string Make(string companion, string says)
    {
        if (says.StartsWith("a directory", StringComparison.Ordinal))
        {
            Directory.CreateDirectory(companion);
        }
        else
        {
            using var mkfifo = Process.Start("mkfifo", [companion]);
            mkfifo.WaitForExit();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        return companion;
    }

    /// <summary>Runs the CLI, killing it after <see cref="Limit"/>: a regression that blocks on a pipe fails instead of hanging.</summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunWithinLimitAsync(params string[] arguments)
    {
        using var process = WaldenCli.Start(arguments);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(Limit);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            return (-1, await stdout, "timed out (blocked): " + await stderr);
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
