using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// An archive path that is not a folder (a file, a file inside an archive, a path under a file, one base's folder) is
/// refused by every entry point (open, restore, verify, status; the CLI's demo, restore, archive verify and status),
/// saying what it is and what to give instead, never "does not exist", and nothing is written.
/// </summary>
public sealed class ArchivePathTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    /// <summary>A real archive in <see cref="Archive"/> (one base, a few segments).</summary>
    private async Task MakeArchiveAsync()
    {
        Directory.CreateDirectory(Archive);
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(Archive)));
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
        await Insert(db, 1);
    }

    /// <summary>The path to give for <paramref name="kind"/>, and what the message must name as the thing to give instead.</summary>
    private async Task<(string Path, string Expected)> PathOfAsync(string kind)
    {
        await MakeArchiveAsync();
        var baseFolder = Directory.EnumerateDirectories(Archive).Single();
        return kind switch
        {
            "a plain file" => (WriteFile("notes.txt"), "is a file, not"),
            "an SQLite file" => (_dir.File("app.db"), "is a file, not"),
            "the archive-of marker" => (Path.Combine(Archive, "archive-of"), $"Give the archive's folder: '{Archive}'"),
            "a base file" => (Path.Combine(baseFolder, "base.wbase"), $"Give the archive's folder: '{Archive}'"),
            "a segment" => (Directory.EnumerateFiles(baseFolder, "*.wseg").First(), $"Give the archive's folder: '{Archive}'"),
            "a base's folder" => (baseFolder, $"Give the archive's folder: '{Archive}'"),
            _ => (Path.Combine(WriteFile("notes.txt"), "archive"), "on its path is a file"),
        };
    }

    private string WriteFile(string name)
    {
        File.WriteAllText(_dir.File(name), "not an archive");
        return _dir.File(name);
    }

    public static TheoryData<string> Kinds =>
        ["a plain file", "an SQLite file", "the archive-of marker", "a base file", "a segment", "a base's folder", "a path under a file"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task RestoreVerifyAndStatus_OfAPathThatIsNoArchiveFolder_SayWhatItIsAndWhatToGive_AndWriteNothing(string kind)
    {
        var (path, expected) = await PathOfAsync(kind);
        var before = Snapshot();

        var restore = await Assert.ThrowsAsync<WaldenArchiveException>(() => WaldenArchive.RestoreAsync(path, _dir.File("out.db")));
        var verify = await Assert.ThrowsAsync<WaldenArchiveException>(() => WaldenArchive.VerifyAsync(path));
        var status = await Assert.ThrowsAsync<WaldenArchiveException>(() => WaldenArchive.GetStatusAsync(path));

        foreach (var error in new[] { restore, verify, status })
        {
            Assert.Contains(expected, error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("does not exist", error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(before, Snapshot());
    }

    [Theory]
    [InlineData(WaldenArchiveMode.Sync, "a plain file")]
    [InlineData(WaldenArchiveMode.Async, "a plain file")]
    [InlineData(WaldenArchiveMode.Sync, "a base file")]
    [InlineData(WaldenArchiveMode.Async, "a segment")]
    public async Task Open_WithAnArchiveDestinationThatIsAFile_IsRefusedSayingItIsAFile_AndTheFileIsUntouched(WaldenArchiveMode mode, string kind)
    {
        var (path, expected) = await PathOfAsync(kind);
        var content = File.ReadAllBytes(path);
        var options = Options(mode, new WaldenFolderDestination(path));

        var error = await Assert.ThrowsAsync<WaldenArchiveException>(() => WaldenDatabase.OpenAsync(_dir.File("other.db"), options));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.False(error.IsTransient);
        Assert.Equal(content, File.ReadAllBytes(path));
    }

    [Theory]
    [InlineData("demo", "a plain file")]
    [InlineData("restore", "a segment")]
    [InlineData("restore", "a base's folder")]
    [InlineData("verify", "a plain file")]
    [InlineData("verify", "the archive-of marker")]
    [InlineData("status", "a plain file")]
    [InlineData("status", "a path under a file")]
    public async Task Cli_WithAnArchivePathThatIsNoArchiveFolder_SaysWhatItIsAndWhatToGive_AndExits2(string command, string kind)
    {
        var (path, expected) = await PathOfAsync(kind);
        string[] arguments = command switch
        {
            "demo" => ["demo", "--db", _dir.File("demo.db"), "--archive", path, "--writes", "1", "--producers", "1"],
            "restore" => ["restore", path, _dir.File("out.db")],
            _ => ["archive", command, path],
        };

        var (exitCode, _, stderr) = await WaldenCli.RunAsync(arguments);

        Assert.Equal(2, exitCode);
        Assert.Contains(expected, stderr.ReplaceLineEndings(string.Empty), StringComparison.Ordinal);
        Assert.DoesNotContain("does not exist", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.File("out.db")));
    }

    [Theory]
    [InlineData("removed")]
    [InlineData("replaced by a file")]
    public async Task Demo_WhenItsArchiveFolderIsGoneBeforeTheEnd_ReportsTheWritesAndThatTheArchiveHoldsNone_AndFails(string how)
    {
        Directory.CreateDirectory(Archive);

        var (exitCode, stdout, stderr) = await WaldenCli.RunHoldingAtAsync("demo-before-close", () =>
        {
            Directory.Delete(Archive, recursive: true);
            if (how == "replaced by a file")
            {
                File.WriteAllText(Archive, "in the way");
            }
        }, "demo", "--db", _dir.File("demo.db"), "--archive", Archive, "--producers", "2", "--writes", "20");

        Assert.Equal(1, exitCode);
        Assert.Contains("40 writes from 2 producers", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("archived (", stdout, StringComparison.Ordinal);
        var error = stderr.ReplaceLineEndings(string.Empty);
        Assert.Contains("cannot be read after the run", error, StringComparison.Ordinal);
        Assert.Contains("the destination fell behind", error, StringComparison.Ordinal);
    }

    /// <summary>With --json the run's figures and the archive's shortfall are one document: it printed two (the figures, then an error).</summary>
    [Fact]
    public async Task Demo_WhenItsArchiveFolderIsGoneBeforeTheEnd_WithJson_IsOneDocumentWithTheFiguresAndTheError()
    {
        Directory.CreateDirectory(Archive);

        var (exitCode, stdout, _) = await WaldenCli.RunHoldingAtAsync("demo-before-close", () => Directory.Delete(Archive, recursive: true),
            "demo", "--db", _dir.File("demo.db"), "--archive", Archive, "--producers", "2", "--writes", "20", "--json");

        Assert.Equal(1, exitCode);
        using var json = System.Text.Json.JsonDocument.Parse(stdout); // throws unless stdout is exactly one JSON document
        Assert.Equal(40, json.RootElement.GetProperty("rows").GetInt32());
        Assert.Contains("the destination fell behind", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, json.RootElement.GetProperty("exitCode").GetInt32());
    }

    [Fact]
    public async Task RestoreCommand_OfABackupFolder_SaysItIsABackupFolderAndNamesABackupFileToGive_NotThatTheArchiveIsEmpty()
    {
        var source = _dir.File("source.db");
        await using (var db = await WaldenDatabase.OpenAsync(source))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)"));
        }

        var backup = await Walden.Backup.WaldenBackups.BackupAsync(source, _dir.File("backups"));

        var (exitCode, _, stderr) = await WaldenCli.RunAsync("restore", _dir.File("backups"), _dir.File("out.db"));

        Assert.Equal(2, exitCode);
        var error = stderr.ReplaceLineEndings(string.Empty);
        Assert.Contains("is a backup folder, not an archive", error, StringComparison.Ordinal);
        Assert.Contains(backup.Path, error, StringComparison.Ordinal);
        Assert.DoesNotContain("base snapshot", error, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.File("out.db")));
    }

    private string[] Snapshot() =>
        [.. Directory.EnumerateFileSystemEntries(_dir.Path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(p => File.Exists(p) ? $"{p} {new FileInfo(p).Length}" : p)];
}
