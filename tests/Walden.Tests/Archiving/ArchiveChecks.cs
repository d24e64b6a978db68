using Walden.Archiving;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Archiving;

/// <summary>The workload and the checks the archive tests share, whatever the destination (a folder or a bucket).</summary>
internal static class ArchiveChecks
{
    /// <summary>Options with one archive destination in <paramref name="mode"/> and no restore drill (tests run it themselves).</summary>
    public static WaldenOptions Options(WaldenArchiveMode mode, IWaldenArchiveDestination destination, TimeProvider? time = null)
    {
        var options = new WaldenOptions { TimeProvider = time ?? TimeProvider.System };
        options.Archive.Mode = mode;
        options.Archive.DrillInterval = null;
        options.Archive.Destinations.Add(destination);
        return options;
    }

    /// <summary>
    /// Removes the page map the last run left beside <paramref name="databasePath"/>, so that the next open takes a base
    /// snapshot instead of continuing the chain (Archiving/Archiver.Continue.cs): for tests that need several bases.
    /// </summary>
    public static void ForgetPageMap(string databasePath)
    {
        var map = Path.Combine(ArchiveLineage.StagingFolder(databasePath), PageMap.FileName);
        if (File.Exists(map))
        {
            File.Delete(map);
        }
    }

    /// <summary>Every table's rows in order, and user_version: what "the same database" is checked by.</summary>
    public static string Content(string path)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        var tables = new List<string>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }

        var text = new System.Text.StringBuilder();
        foreach (var table in tables)
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT * FROM \"{table}\" ORDER BY rowid";
            using var reader = command.ExecuteReader();
            text.Append(table).Append(':');
            while (reader.Read())
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    text.Append(reader.GetValue(i)).Append(',');
                }

                text.Append(';');
            }
        }

        text.Append("|user_version=").Append(connection.Scalar<long>("PRAGMA user_version"));
        return text.ToString();
    }

    /// <summary>
    /// The breaker tests' rows: creates <c>t(a, body)</c> if needed, writes 400 older rows (-1..-400, bodies of 300 'o')
    /// when <paramref name="older"/>, then rows <paramref name="first"/>..first + count - 1 with bodies of 300
    /// <paramref name="fill"/>, each in its own write, shipped at once after each when <paramref name="ship"/>.
    /// </summary>
    public static async Task WriteRowsAsync(WaldenDatabase db, int first, int count, bool older = false, char fill = 'x', bool ship = false)
    {
        await db.WriteAsync(c => c.Exec("CREATE TABLE IF NOT EXISTS t(a INTEGER PRIMARY KEY, body TEXT)"));
        if (older)
        {
            await db.WriteAsync(c => c.Exec("WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 400) " +
                "INSERT INTO t(a, body) SELECT -v, printf('%.300c', 'o') FROM n"));
        }

        for (var i = first; i < first + count; i++)
        {
            var value = i;
            await db.WriteAsync(c => c.Exec($"INSERT INTO t(a, body) VALUES ({value}, printf('%.300c', '{fill}'))"));
            if (ship)
            {
                Assert.Null(db.Archiver!.ShipAll());
            }
        }
    }

    /// <summary>Writes <paramref name="value"/> into the one-column table <c>t(a)</c>.</summary>
    public static Task Insert(WaldenDatabase db, int value) => db.WriteAsync(c => c.Exec($"INSERT INTO t(a) VALUES ({value})"));

    /// <summary>
    /// Every kind of change an archive must carry: a table created, <paramref name="rows"/> rows written at once (so they
    /// group into batches), an index and a second table in one write, rows deleted and <c>user_version</c> set.
    /// </summary>
    public static async Task WriteEveryKindAsync(WaldenDatabase db, int rows)
    {
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
        await Task.WhenAll(Enumerable.Range(0, rows).Select(i =>
            db.WriteAsync(c => c.Exec($"INSERT INTO t(body) VALUES (printf('%.500c', 'x') || {i})"))));
        await db.WriteAsync(c => c.Exec("CREATE INDEX t_body ON t(body); CREATE TABLE nokey(a, b); INSERT INTO nokey VALUES (1, 2)"));
        await db.WriteAsync(c => c.Exec("DELETE FROM t WHERE id % 7 = 0; PRAGMA user_version = 42"));
    }

    /// <summary>The restored file holds what <see cref="WriteEveryKindAsync"/> left in <paramref name="source"/>, and is sound.</summary>
    public static void AssertHoldsEveryKind(WaldenArchiveRestoreResult result, string source, string restored)
    {
        Assert.True(result.Complete, result.Problem);
        Assert.Equal(Count(source), Count(restored));
        Assert.Equal(1, Count(restored, "nokey"));
        using var connection = Sql.OpenDirect(restored, readOnly: true);
        Assert.Equal(42, connection.Scalar<long>("PRAGMA user_version"));
        Assert.Equal("ok", connection.Scalar<string>("PRAGMA integrity_check"));
    }

    /// <summary>
    /// Every acknowledged value of <c>t.a</c> is in the restored file (the unacknowledged ones may be too: they were committed
    /// locally), and the file passes integrity_check.
    /// </summary>
    public static void AssertHoldsAcknowledged(WaldenArchiveRestoreResult result, string restored, IReadOnlyCollection<int> acknowledged)
    {
        Assert.True(result.Complete, result.Problem);
        using var connection = Sql.OpenDirect(restored, readOnly: true);
        var present = new HashSet<long>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT a FROM t";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                present.Add(reader.GetInt64(0));
            }
        }

        Assert.All(acknowledged, value => Assert.Contains(value, present));
        Assert.Equal("ok", connection.Scalar<string>("PRAGMA integrity_check"));
    }

    /// <summary>Restores the latest state of <paramref name="archive"/> into <paramref name="restored"/>, which must be complete.</summary>
    public static async Task<string> RestoreCompleteAsync(string archive, string restored)
    {
        var result = await WaldenArchive.RestoreAsync(archive, restored);
        Assert.True(result.Complete, result.Problem);
        return restored;
    }

    /// <summary>The rows of <paramref name="table"/> in the database at <paramref name="path"/>, read directly.</summary>
    public static long Count(string path, string table = "t")
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        return connection.Scalar<long>($"SELECT count(*) FROM {table}");
    }
}
