using Walden.Tests.TestSupport;
using Walden.Writing;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// With an Async archive a lone caller still commits on its own thread (GroupCommitWriter.Inline), and the archive takes
/// each such commit, and answers a foreign commit seen there with a new base, as on the writer thread. So does a Sync
/// archive in good standing (its store runs on a thread of its own beside the caller's WAL fsync). The writes run inside
/// Task.Run: xunit's synchronization context keeps them off the inline path.
/// </summary>
public sealed class ArchiveInlineTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60); // a safety net only
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _clock = new(); // tells a write after a pause (inline) from one right after a batch

    public ArchiveInlineTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    private string Path => _dir.File("app.db");

    [Theory]
    [InlineData(WaldenArchiveMode.Async, true)]
    [InlineData(WaldenArchiveMode.Sync, true)]
    public async Task ALoneCallersWrite_RunsInlineWithEitherArchiveMode_AndTheArchiveRestoresEveryWrite(WaldenArchiveMode mode, bool inline)
    {
        var options = Options(mode, new WaldenFolderDestination(Archive));
        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        options.Faults = new WriterFaults { InlineClock = _clock };
        await using (var db = await WaldenDatabase.OpenAsync(Path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)")).WaitAsync(Bound);
            await Task.Run(async () =>
            {
                var caller = Environment.CurrentManagedThreadId;
                for (var i = 0; i < 20; i++)
                {
                    if (i == 10)
                    {
                        using var foreign = Sql.OpenDirect(Path); // the next commit sees it and pins a new base, on its thread
                        foreign.Exec("INSERT INTO t(body) VALUES ('foreign')");
                    }

                    _clock.Advance(TimeSpan.FromSeconds(1)); // a pause: the writer is idle
                    var ranOn = await db.WriteAsync(c =>
                    {
                        c.Exec($"INSERT INTO t(body) VALUES ('write {i}')");
                        return Environment.CurrentManagedThreadId;
                    });
                    Assert.Equal(inline, ranOn == caller);
                }
            }).WaitAsync(Bound);
        }

        Assert.Equal(21, Count(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
        // The base at open and the one after the foreign commit; one when the copy of the first was still running then
        // (an Async base is copied off the writer's path, and a new one replaces a base not yet shipped): the count of 21
        // above, the foreign row included, is what proves the new base.
        Assert.InRange(Directory.EnumerateDirectories(Archive).Count(d => System.IO.Path.GetFileName(d).All(char.IsAsciiDigit)), 1, 2);
    }
}
