using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// Objects of another archive copied into an archive folder (another database's base file or base folder, a segment) never
/// make a restore or a verification return the other database, or this one's earlier state, as complete: the restore is
/// refused or stops, naming what does not belong, and status says so.
/// </summary>
public sealed class ArchiveForeignObjectTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>An archive of its own database (table <paramref name="table"/>, <paramref name="rows"/> rows, one write each).</summary>
    private async Task<string> ArchiveOfAsync(string name, string table, int rows, DateTimeOffset start)
    {
        var archive = _dir.File(name);
        Directory.CreateDirectory(archive);
        var options = Options(WaldenArchiveMode.Async, new WaldenFolderDestination(archive), new FakeTimeProvider(start));
        await using var db = await WaldenDatabase.OpenAsync(_dir.File(name + ".db"), options);
        await db.WriteAsync(c => c.Exec($"CREATE TABLE {table}(a)"));
        for (var i = 0; i < rows; i++)
        {
            await db.WriteAsync(c => c.Exec($"INSERT INTO {table} VALUES ({i})"));
            Assert.Null(db.Archiver!.ShipAll()); // a segment each
        }

        return archive;
    }

    private static string BaseFolder(string archive) => Directory.EnumerateDirectories(archive).Single();

    [Theory]
    [InlineData("its base file replaced by another archive's")]
    [InlineData("a segment replaced by another archive's")]
    public async Task AnArchiveWithAnotherArchivesObjectCopiedIn_NeverRestoresOrVerifiesAsComplete_AndSaysWhatDoesNotBelong(string kind)
    {
        var start = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
        var mine = await ArchiveOfAsync("mine", "t", 30, start);
        var other = await ArchiveOfAsync("other", "u", 3, start.AddMinutes(5)); // a later base id: the newest base of the folder
        var myBase = BaseFolder(mine);
        var otherBase = BaseFolder(other);
        switch (kind)
        {
            case "its base file replaced by another archive's":
                File.Copy(Path.Combine(otherBase, "base.wbase"), Path.Combine(myBase, "base.wbase"), overwrite: true);
                break;
            case "another archive's base folder copied in":
                var copy = Path.Combine(mine, Path.GetFileName(otherBase));
                Directory.CreateDirectory(copy);
                foreach (var file in Directory.EnumerateFiles(otherBase))
                {
                    File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
                }

                Assert.True(string.CompareOrdinal(Path.GetFileName(otherBase), Path.GetFileName(myBase)) > 0, "the copied base must be the newer one");
                break;
            default:
                var segment = Directory.EnumerateFiles(myBase, "*.wseg").Order(StringComparer.Ordinal).Skip(1).First();
                File.Copy(Directory.EnumerateFiles(otherBase, "*.wseg").First(), segment, overwrite: true);
                break;
        }

        var output = _dir.File("restored.db");
        WaldenArchiveRestoreResult? result = null;
        var error = await Record.ExceptionAsync(async () => result = await WaldenArchive.RestoreAsync(mine, output));

        if (error is not null)
        {
            var refused = Assert.IsType<WaldenArchiveException>(error);
            Assert.Matches("another (folder or )?archive", refused.Message);
            Assert.False(File.Exists(output));
        }
        else
        {
            Assert.False(result!.Complete, "restored as complete");
            Assert.NotNull(result.Problem);
            Assert.Equal(0, Count(output, "sqlite_schema WHERE name = 'u'"));
        }

        var verified = await WaldenArchive.VerifyAsync(mine);
        Assert.False(verified.Complete);
        var status = await WaldenArchive.GetStatusAsync(mine);
        Assert.True(status.Problem is not null || status.Bases.Any(b => b.Problem is not null) || status.LastVerification is { Ok: false });
        if (kind != "a segment replaced by another archive's")
        {
            Assert.True(status.Problem is not null || status.Bases.Any(b => b.Problem is not null), "status lists the archive as sound");
        }
    }
    /// <summary>
    /// Another database's base folder whose transactions come after this archive's own (its database ran longer): no check
    /// of ids or names tells it apart, and a restore of the latest, or of a transaction in its range, returned the other
    /// database as complete. Its base carries the other database's lineage.
    /// </summary>
    [Theory]
    [InlineData("the latest")]
    [InlineData("a transaction in its range")]
    public async Task AnotherDatabasesBaseFolder_WhoseTransactionsComeAfterThisArchivesLast_IsNeverRestored(string target)
    {
        var start = new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
        var mine = await ArchiveOfAsync("mine", "t", 3, start);
        var other = _dir.File("other");
        Directory.CreateDirectory(other);
        var options = Options(WaldenArchiveMode.Async, new WaldenFolderDestination(other), new FakeTimeProvider(start.AddMinutes(5)));
        options.Archive.NewBaseAfterBytes = 1L << 20; // a second base once the chain passes 1 MiB, at a transaction after mine's last
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("other.db"), options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE u(a, body)"));
            for (var i = 0; i < 12; i++)
            {
                await db.WriteAsync(c => c.Exec($"INSERT INTO u VALUES ({i}, randomblob(200000))"));
                Assert.Null(db.Archiver!.ShipAll());
            }
        }

        var mineLast = (await WaldenArchive.GetStatusAsync(mine)).LastTxid!.Value;
        var otherBase = Directory.EnumerateDirectories(other).Order(StringComparer.Ordinal).Last();
        var copy = Path.Combine(mine, Path.GetFileName(otherBase));
        Assert.False(Directory.Exists(copy), "the other archive's newest base id must be free in mine");
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.EnumerateFiles(otherBase))
        {
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }

        var foreignTxid = (await WaldenArchive.GetStatusAsync(other)).Bases[^1].Txid;
        Assert.True(foreignTxid > mineLast, $"the copied base must start after this archive's last transaction ({foreignTxid}, {mineLast})");

        var output = _dir.File("restored.db");
        var options2 = target == "the latest" ? new WaldenArchiveRestoreOptions() : new WaldenArchiveRestoreOptions { Txid = foreignTxid + 1 };
        WaldenArchiveRestoreResult? result = null;
        var error = await Record.ExceptionAsync(async () => result = await WaldenArchive.RestoreAsync(mine, output, options2));

        if (error is null)
        {
            Assert.Equal(0, Count(output, "sqlite_schema WHERE name = 'u'")); // this database, never the other
            Assert.Equal(3, Count(output, "t"));
            Assert.Contains("another database", result!.Problem, StringComparison.Ordinal);
        }
        else
        {
            Assert.IsType<WaldenArchiveException>(error);
            Assert.False(File.Exists(output));
        }

        var status = await WaldenArchive.GetStatusAsync(mine);
        Assert.Contains(status.Bases, b => b.Problem?.Contains("another database", StringComparison.Ordinal) == true);
        Assert.Equal(mineLast, status.LastTxid);

        // The database itself goes on archiving beside the foreign folder, and its latest state restores.
        var again = Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(mine), new FakeTimeProvider(start.AddMinutes(30)));
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("mine.db"), again))
        {
            await db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (100)"));
        }

        var latest = await WaldenArchive.RestoreAsync(mine, _dir.File("latest.db"));
        Assert.True(latest.Complete, latest.Problem);
        Assert.Equal(4, Count(_dir.File("latest.db"), "t"));
    }
}
