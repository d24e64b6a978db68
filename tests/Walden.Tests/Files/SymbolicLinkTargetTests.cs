using System.Text.Json.Nodes;
using Walden.Backup;
using Walden.Files;
using Walden.Recovery;
using Walden.Tests.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Files;

/// <summary>
/// A database reached through a symbolic link (a deployment's `current/app.db`, a data folder linked into a container) is
/// the link's target for SQLite, which follows the link and keeps the -wal and -shm beside the target. A restore or an
/// in-place recovery replaces the target and keeps its old content in quarantine; the link stays as it was, and the
/// sizes reported are the target's.
/// </summary>
public sealed class SymbolicLinkTargetTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>The real database in <c>real/</c> and a link to it: from another folder (absolute) or beside it (relative).</summary>
    private (string Real, string Link) Linked(bool besideIt)
    {
        var real = Path.Combine(Directory.CreateDirectory(_dir.File("real")).FullName, "app-v2.db");
        var link = besideIt ? _dir.File("real/app.db") : Path.Combine(Directory.CreateDirectory(_dir.File("links")).FullName, "app.db");
        File.CreateSymbolicLink(link, besideIt ? "app-v2.db" : real);
        return (real, link);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RestoringABackupThroughALink_ReplacesItsTarget_AndKeepsTheTargetsOldContentInQuarantine(bool besideIt)
    {
        string backup;
        await using (var source = await WaldenDatabase.OpenAsync(_dir.File("source.db")))
        {
            await source.WriteAsync(c => c.Exec("CREATE TABLE t(a); INSERT INTO t VALUES ('from-backup');"));
            backup = (await source.BackupAsync(_dir.File("backups"))).Path;
        }

        var (real, link) = Linked(besideIt);
        using (var old = Sql.OpenDirect(real))
        {
            old.Exec("CREATE TABLE t(a); INSERT INTO t VALUES ('old');");
        }

        var oldBytes = await File.ReadAllBytesAsync(real);
        var linkTarget = new FileInfo(link).LinkTarget;

        var restore = await WaldenBackups.RestoreAsync(backup, link);

        Assert.Equal(linkTarget, new FileInfo(link).LinkTarget); // the link is still the link, to the same target
        Assert.Equal(real, restore.DatabasePath);
        using (var restored = Sql.OpenDirect(link, readOnly: true))
        {
            Assert.Equal("from-backup", restored.Scalar<string>("SELECT a FROM t"));
        }

        Assert.NotNull(restore.Quarantine);
        Assert.Equal(Path.GetDirectoryName(real), Path.GetDirectoryName(Path.GetDirectoryName(restore.Quarantine.Folder)));
        Assert.Equal(oldBytes, await File.ReadAllBytesAsync(Path.Combine(restore.Quarantine.Folder, "app-v2.db")));
    }

    [Fact]
    public async Task RestoringABackupOntoALinkLoop_RefusesIt_NamingTheLoop_AndChangesNothing()
    {
        string backup;
        await using (var source = await WaldenDatabase.OpenAsync(_dir.File("source.db")))
        {
            await source.WriteAsync(c => c.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1);"));
            backup = (await source.BackupAsync(_dir.File("backups"))).Path;
        }

        var folder = Directory.CreateDirectory(_dir.File("loop")).FullName;
        var link = Path.Combine(folder, "app.db");
        File.CreateSymbolicLink(link, "other.db");
        File.CreateSymbolicLink(Path.Combine(folder, "other.db"), "app.db");

        var error = await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenBackups.RestoreAsync(backup, link));

        Assert.Contains($"goes through a symbolic-link loop at '{link}'", error.Message, StringComparison.Ordinal); // it said "a file vanished"
        Assert.Contains("Nothing was created or changed", error.Message, StringComparison.Ordinal);
        Assert.Equal(["app.db", "other.db"], Directory.EnumerateFileSystemEntries(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RecoveringInPlaceThroughALink_SwapsItsTarget_AndKeepsTheDamagedTargetInQuarantine(bool besideIt)
    {
        var (real, link) = Linked(besideIt);
        DamagedDatabases.Create(real);
        DamagedDatabases.Damage(real, DamageKind.GarbagePages);
        var damaged = await File.ReadAllBytesAsync(real);
        var linkTarget = new FileInfo(link).LinkTarget;

        var report = await WaldenRecovery.RecoverInPlaceAsync(link);

        Assert.True(report.Usable);
        Assert.Equal(linkTarget, new FileInfo(link).LinkTarget);
        Assert.Equal(real, report.OutputPath);
        using (var recovered = Sql.OpenDirect(link, readOnly: true))
        {
            Assert.Equal("ok", recovered.Scalar<string>("PRAGMA integrity_check"));
        }

        Assert.Equal(damaged, await File.ReadAllBytesAsync(Path.Combine(report.Quarantine!.Folder, "app-v2.db")));
    }

    [Fact]
    public async Task StatsThroughALink_ReportTheTargetsFiles_NotTheLinks()
    {
        var (real, link) = Linked(besideIt: false);
        await ForeignProgram.RunPythonAsync(ForeignProgram.KilledWithCommittedWal, real); // a -wal beside the target only

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("stats", "--json", link);

        Assert.True(exitCode == 0, stdout + stderr);
        var stats = JsonNode.Parse(stdout)!;
        Assert.Equal(new FileInfo(real).Length, (long)stats["databaseFileBytes"]!);
        Assert.Equal(new FileInfo(real + "-wal").Length, (long)stats["walFileBytes"]!);
    }
}
