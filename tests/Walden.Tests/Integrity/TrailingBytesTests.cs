using Walden.Integrity;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Integrity;

/// <summary>
/// A database whose length is not a whole number of pages because a few bytes follow its last page (a copy interrupted in
/// its last page, a tool that appended to it) is healthy for SQLite when its header's page count leaves them out: SQLite reads
/// only the pages the header declares, and integrity_check is "ok". Every command says the same of it: healthy, with a note
/// on the trailing bytes. Found by a breaker: 'walden check' called such a file corrupt and advised recovering it, while
/// 'walden doctor' and SQLite's integrity_check said it was fine.
/// </summary>
public sealed class TrailingBytesTests : IDisposable
{
    private const string Trailing = "1,000 trailing bytes beyond its last whole page";
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<string> AppendedToAsync(bool headerPageCountValid = true)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE t(x)'); " +
            "c.executemany('INSERT INTO t VALUES (?)', [(i,) for i in range(100)]); c.commit(); c.close()", path);
        await using (var file = new FileStream(path, FileMode.Append, FileAccess.Write))
        {
            await file.WriteAsync(new byte[1000]);
        }

        if (!headerPageCountValid)
        {
            // An old writer's header: 'version-valid-for' (offset 92) differs from the change counter, so SQLite counts pages by
            // the file's length, rounded up, and reads the partial page as a page of its own.
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
            file.Position = 92;
            await file.WriteAsync(new byte[] { 0, 0, 0x7f, 0x7f });
        }

        return path;
    }

    [Fact]
    public async Task EveryCommand_CallsADatabaseWithBytesPastItsLastPageHealthy_WithANoteOnThem()
    {
        var path = await AppendedToAsync();
        var length = new FileInfo(path).Length;

        foreach (var arguments in new[] { new[] { "check", path }, ["check", path, "--full"], ["info", path], ["stats", path], ["doctor", path] })
        {
            var (exit, stdout, stderr) = await WaldenCli.RunAsync(arguments);

            var what = string.Join(' ', arguments);
            Assert.True(exit == 0, $"{what}: exit {exit}: {stdout} {stderr}");
            Assert.True(stdout.Contains(Trailing, StringComparison.Ordinal) && stdout.Contains("SQLite ignores them", StringComparison.Ordinal),
                $"{what}: {stdout}");
            Assert.DoesNotContain("corrupt", stdout, StringComparison.OrdinalIgnoreCase);
        }

        var backups = _dir.File("bk");
        var backup = await WaldenCli.RunAsync("backup", path, backups, "--json");
        Assert.True(backup.ExitCode == 0, backup.Stdout + backup.Stderr);
        Assert.Contains(Trailing, backup.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, new FileInfo(Directory.GetFiles(backups, "*.db").Single()).Length % 4096);

        Assert.Equal(length, new FileInfo(path).Length); // no command wrote the user's file
    }

    [Fact]
    public async Task CheckFile_OnBytesPastTheLastPage_IsHealthy_AndNotesThem()
    {
        var path = await AppendedToAsync();

        foreach (var kind in new[] { WaldenIntegrityCheck.Quick, WaldenIntegrityCheck.Full })
        {
            var check = WaldenIntegrity.CheckFile(path, kind);

            Assert.True(check.Status == WaldenFileStatus.Healthy, string.Join(" ", check.Findings));
            Assert.Contains(check.Notes, note => note.Contains(Trailing, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Check_WhenSqliteCountsThePartialPage_StillAgreesWithSqlite_ThatItIsDamaged()
    {
        var path = await AppendedToAsync(headerPageCountValid: false);

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("check", path, "--full");

        Assert.True(exit == 1, stdout + stderr); // integrity_check: "Page 4: never used"
        Assert.DoesNotContain("SQLite ignores them", stdout, StringComparison.Ordinal);
    }
}
