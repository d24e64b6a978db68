using Walden.Backup;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Files;

/// <summary>
/// An output path that cannot take a new file (a folder, a folder with a trailing slash, a path under a file, a path under a
/// missing folder) is refused by archive restore, recovery and backup restore with a message that says what the path is
/// and what to give, and nothing is written.
/// </summary>
public sealed class OutputPathTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var operation in new[] { "archive restore", "recovery", "backup restore" })
        {
            foreach (var output in new[] { "a folder", "a folder/", "a file/out.db", "a file/deeper/out.db", "missing/out.db" })
            {
                if (operation != "backup restore" || !output.StartsWith("a folder", StringComparison.Ordinal))
                {
                    data.Add(operation, output);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task AnOutputPathThatCannotTakeANewFile_IsRefusedSayingWhatItIs_AndNothingIsWritten(string operation, string output)
    {
        Directory.CreateDirectory(_dir.File("a folder"));
        File.WriteAllText(_dir.File("a file"), "the user's");
        var source = _dir.File("app.db");
        var archive = _dir.File("archive");
        Directory.CreateDirectory(archive);
        var options = new WaldenOptions();
        options.Archive.Destinations.Add(new WaldenFolderDestination(archive));
        options.Archive.Mode = WaldenArchiveMode.Sync;
        options.Archive.DrillInterval = null;
        WaldenBackup? backup = null;
        await using (var db = await WaldenDatabase.OpenAsync(source, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)"));
            if (operation == "backup restore")
            {
                backup = await db.BackupAsync(_dir.File("backups"));
            }
        }

        var before = Snapshot();
        var path = _dir.File(output);

        Func<Task> run = operation switch
        {
            "archive restore" => () => WaldenArchive.RestoreAsync(archive, path),
            "recovery" => () => WaldenRecovery.RecoverToAsync(source, path),
            _ => () => WaldenBackups.RestoreAsync(backup!.Path, path),
        };
        var error = await Assert.ThrowsAnyAsync<WaldenException>(run);

        var expected = output switch
        {
            "missing/out.db" => $"The folder '{_dir.File("missing")}' does not exist",
            _ when output.StartsWith("a file", StringComparison.Ordinal) => $"'{_dir.File("a file")}' on its path is a file, not a folder",
            _ => "is a folder, not a file path",
        };
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot());
    }

    private string[] Snapshot() =>
        [.. Directory.EnumerateFileSystemEntries(_dir.Path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(p => File.Exists(p) ? $"{p} {new FileInfo(p).Length}" : p)];
}
