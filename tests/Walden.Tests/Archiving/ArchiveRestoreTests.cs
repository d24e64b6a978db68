using Walden.Archiving;
using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

public sealed class ArchiveRestoreTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public ArchiveRestoreTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    private WaldenOptions Options(WaldenArchiveMode mode, string? archive = null)
    {
        var options = new WaldenOptions();
        options.Archive.Mode = mode;
        options.Archive.DrillInterval = null;
        options.Archive.AddFolder(archive ?? Archive);
        return options;
    }

    [Theory]
    [InlineData(WaldenArchiveMode.Sync)]
    [InlineData(WaldenArchiveMode.Async)]
    public async Task Restore_FromTheArchiveAlone_HasEveryCommittedWriteAndSchemaChange(WaldenArchiveMode mode)
    {
        var path = _dir.File("app.db");
        await using (var db = await WaldenDatabase.OpenAsync(path, Options(mode)))
        {
            await ArchiveChecks.WriteEveryKindAsync(db, rows: 500);
        }

        var restored = _dir.File("restored.db");
        var result = await WaldenArchive.RestoreAsync(Archive, restored);

        ArchiveChecks.AssertHoldsEveryKind(result, path, restored);
    }

    [Fact]
    public async Task Restore_ToATxidOrAMoment_HasExactlyTheWritesUpToIt()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var options = Options(WaldenArchiveMode.Sync);
        options.TimeProvider = time;
        var path = _dir.File("app.db");
        var txids = new List<long>();
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY)"));
            for (var i = 1; i <= 10; i++)
            {
                time.Advance(TimeSpan.FromMinutes(1));
                await db.WriteAsync(c => c.Exec($"INSERT INTO t VALUES ({i})"));
                txids.Add(db.Archiver!.LastTxid);
            }
        }

        var byTxid = await WaldenArchive.RestoreAsync(Archive, _dir.File("at-txid.db"), new WaldenArchiveRestoreOptions { Txid = txids[3] });
        Assert.True(byTxid.Complete, byTxid.Problem);
        Assert.Equal(4, Count(_dir.File("at-txid.db")));

        var at = DateTimeOffset.Parse("2026-01-01T00:06:30Z", System.Globalization.CultureInfo.InvariantCulture);
        var byTime = await WaldenArchive.RestoreAsync(Archive, _dir.File("at-time.db"), new WaldenArchiveRestoreOptions { At = at });
        Assert.True(byTime.Complete, byTime.Problem);
        Assert.Equal(6, Count(_dir.File("at-time.db")));
    }

    [Fact]
    public async Task Restore_NeverWritesOverAnExistingFile()
    {
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
        }

        var existing = _dir.File("existing.db");
        await File.WriteAllTextAsync(existing, "keep me");

        var error = await Assert.ThrowsAsync<WaldenArchiveException>(() => WaldenArchive.RestoreAsync(Archive, existing));
        Assert.Contains("already exists", error.Message, StringComparison.Ordinal);
        Assert.Equal("keep me", await File.ReadAllTextAsync(existing));
    }
    [Theory]
    [InlineData("another database's lineage")]
    [InlineData("this archive's lineage")]
    [InlineData("a file")]
    public async Task Restore_NeverWritesOverTheStagingFolderOfADatabaseThatWasAtTheOutputPath(string there)
    {
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
        }

        // What a database that was at the output path left beside it (its file deleted, its staging folder not).
        var output = _dir.File("out.db");
        var staging = ArchiveLineage.StagingFolder(output);
        var lineage = Path.Combine(staging, ArchiveLineage.LocalFile);
        var kept = there switch
        {
            "another database's lineage" => "0123456789abcdef0123456789abcdef\n",
            "this archive's lineage" => ArchiveLineage.ReadLocal(ArchiveLineage.StagingFolder(_dir.File("app.db")))! + "\n",
            _ => "not a folder",
        };
        if (there == "a file")
        {
            await File.WriteAllTextAsync(staging, kept);
        }
        else
        {
            Directory.CreateDirectory(staging);
            await File.WriteAllTextAsync(lineage, kept);
        }

        var error = await Assert.ThrowsAsync<WaldenArchiveException>(() => WaldenArchive.RestoreAsync(Archive, output));

        Assert.Contains($"'{staging}' already exists", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.Equal(kept, await File.ReadAllTextAsync(there == "a file" ? staging : lineage));
    }
}
