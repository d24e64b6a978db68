using System.Diagnostics;
using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// An archive object replaced by a named pipe (opening one for reading waits for a writer forever) never hangs a restore,
/// a status or an open: the pipe is named as what it is, and the restore stops before it or refuses.
/// </summary>
public sealed class ArchiveNamedPipeTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    private static void MakeFifo(string path)
    {
        File.Delete(path);
        using var mkfifo = Process.Start("mkfifo", [path]);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
    }

    [Theory]
    [InlineData("a segment")]
    [InlineData("the base")]
    [InlineData("the archive-of marker")]
    [InlineData("a Sync append log")]
    public async Task AnArchiveObjectThatIsANamedPipe_NeverHangsRestoreStatusOrOpen_AndIsNamed(string which)
    {
        Directory.CreateDirectory(Archive);
        var path = _dir.File("app.db");
        var options = Options(WaldenArchiveMode.Async, new WaldenFolderDestination(Archive));
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            for (var i = 0; i < 3; i++)
            {
                await Insert(db, i);
                Assert.Null(db.Archiver!.ShipAll());
            }
        }

        var baseFolder = Directory.EnumerateDirectories(Archive).Single();
        if (which == "a Sync append log")
        {
            MakeFifo(Path.Combine(Archive, "sync-1.wlog"));
            var error = await Record.ExceptionAsync(() => WaldenArchive.RestoreAsync(Archive, _dir.File("restored.db")).WaitAsync(Bound));
            Assert.IsNotType<TimeoutException>(error);
            Assert.Contains("named pipe", error?.Message, StringComparison.Ordinal);
            await Assert.ThrowsAnyAsync<IOException>(() => WaldenArchive.GetStatusAsync(Archive).WaitAsync(Bound));
            return;
        }

        MakeFifo(which switch
        {
            "a segment" => Directory.EnumerateFiles(baseFolder, "*.wseg").Order(StringComparer.Ordinal).Last(),
            "the base" => Path.Combine(baseFolder, "base.wbase"),
            _ => Path.Combine(Archive, "archive-of"),
        });

        if (which == "the archive-of marker")
        {
            var open = WaldenDatabase.OpenAsync(path, options);
            await using var reopened = await open.WaitAsync(Bound);
            await Insert(reopened, 10);
            return;
        }

        var status = await WaldenArchive.GetStatusAsync(Archive).WaitAsync(Bound);
        var restore = await Record.ExceptionAsync(async () =>
        {
            var result = await WaldenArchive.RestoreAsync(Archive, _dir.File("restored.db")).WaitAsync(Bound);
            Assert.False(result.Complete);
            Assert.Contains("named pipe", result.Problem, StringComparison.Ordinal);
        });

        Assert.IsNotType<TimeoutException>(restore);
        if (which == "the base")
        {
            Assert.Contains("named pipe", Assert.IsType<WaldenArchiveException>(restore).Message, StringComparison.Ordinal);
            Assert.Contains(status.Bases, b => b.Problem?.Contains("named pipe", StringComparison.Ordinal) == true);
        }
        else
        {
            Assert.Null(restore);
        }
    }
}
