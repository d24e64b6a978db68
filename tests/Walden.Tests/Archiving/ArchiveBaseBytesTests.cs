using Walden.Archiving;
using Walden.Tests.TestSupport;
using Walden.Writing;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// A base's bytes are the database's logical image at its transaction (Archiving/Archiver.Base.cs, CopyBase): SQLite's
/// backup API rewrites page 1's change counter, schema cookie, version-valid-for and version number in its copy, and the
/// base puts page 1 as its snapshot saw it back. Covers a rollback-journal file switched to WAL at the open, a freelist,
/// the smallest and largest page sizes, and a base taken while page 1 is in the -wal.
/// </summary>
public sealed class ArchiveBaseBytesTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public ArchiveBaseBytesTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    private string Path => _dir.File("app.db");

    /// <summary>Every page of the database as SQLite sees it now (the -wal included), read by a connection of the test's own.</summary>
    private static byte[] LogicalImage(string path)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT data FROM sqlite_dbpage ORDER BY pgno";
        using var reader = command.ExecuteReader();
        var image = new MemoryStream();
        while (reader.Read())
        {
            image.Write(reader.GetFieldValue<byte[]>(0));
        }

        return image.ToArray();
    }

    /// <summary>Inserts <paramref name="count"/> rows of random bytes into t.</summary>
    private static string Rows(int count, int bytes) =>
        $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) INSERT INTO t(body) SELECT randomblob({bytes}) FROM n";

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    [InlineData(65536)]
    public async Task EveryBase_RestoresToTheDatabasesBytesAtItsTransaction_FromARollbackJournalFileWithAFreelist(int pageSize)
    {
        using (var connection = Sql.OpenDirect(Path))
        {
            connection.Exec($"PRAGMA page_size={pageSize}");
            connection.Exec("CREATE TABLE t(a INTEGER PRIMARY KEY, body BLOB)");
            connection.Exec(Rows(2000, 300));
            connection.Exec("DELETE FROM t WHERE a BETWEEN 500 AND 1500"); // free pages, kept: no auto_vacuum
            connection.Exec("PRAGMA user_version=7");
            Assert.Equal("delete", connection.Scalar<string>("PRAGMA journal_mode"));
            Assert.True(connection.Scalar<long>("PRAGMA freelist_count") > 0);
        }

        // Sync mode: the writer waits for each base's copy, so nothing commits between this read and the copy.
        var images = new List<byte[]>();
        var options = Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(Archive));
        options.CheckpointIdleDelay = TimeSpan.FromHours(1); // page 1 stays in the -wal for the later bases
        options.Archive.NewBaseAfterBytes = 1 << 20; // the least allowed
        options.Faults = new WriterFaults { BeforeBaseCopy = () => images.Add(LogicalImage(Path)) };
        await using (var db = await WaldenDatabase.OpenAsync(Path, options))
        {
            for (var i = 0; i < 40; i++)
            {
                await db.WriteAsync(c => c.Exec(Rows(20, 3000))); // 60 kB incompressible
                await db.WriteAsync(c => c.Exec($"DELETE FROM t WHERE a % 7 = {i % 7}"));
            }
        }

        var status = await WaldenArchive.GetStatusAsync(Archive);
        Assert.True(status.Bases.Count >= 2, $"{status.Bases.Count} base(s): none was taken after writes");
        Assert.Equal(images.Count, status.Bases.Count);
        for (var i = 0; i < images.Count; i++)
        {
            var output = _dir.File($"base-{i}.db");
            var result = await WaldenArchive.RestoreAsync(Archive, output, new WaldenArchiveRestoreOptions { Txid = status.Bases[i].Txid });
            Assert.True(result.Complete, result.Problem);
            var restored = File.ReadAllBytes(output);
            Assert.Equal(images[i].Length, restored.Length);
            var differing = Enumerable.Range(0, restored.Length).Where(b => images[i][b] != restored[b]).Take(16).ToList();
            Assert.True(differing.Count == 0,
                $"base {i} differs from the database at its transaction at byte offsets {string.Join(", ", differing)}");
        }
    }
}
