using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>The kinds of damage the corruption generator applies.</summary>
public enum DamageKind
{
    /// <summary>A run of 8 pages in the middle of the file overwritten with zeros.</summary>
    ZeroedPages,

    /// <summary>6 pages (never page 1) overwritten with random bytes.</summary>
    GarbagePages,

    /// <summary>The interior (b-tree branch) pages of the two largest tables overwritten with random bytes.</summary>
    InteriorPages,

    /// <summary>The file cut to 75% of its length.</summary>
    Truncation,

    /// <summary>A stray write over the first 512 bytes: the 100-byte header and the schema page's b-tree header.</summary>
    Header,

    /// <summary>Page 1 (header and sqlite_schema) overwritten with zeros.</summary>
    SchemaPage,

    /// <summary>48 single-bit flips in b-tree page headers and cell pointer arrays.</summary>
    BitFlips,

    /// <summary>300 single-bit flips anywhere in the b-tree pages (headers, cell pointers, record headers and values).</summary>
    RandomBitFlips,
}

/// <summary>Which sample the corruption generator builds (the default one, or a variant for the bit-flip comparison).</summary>
public enum SampleKind
{
    /// <summary>Four tables (three with indexes), an FTS5 table with a few overflow bodies.</summary>
    Standard,

    /// <summary>The same tables with no index at all: nothing to confirm a row against.</summary>
    NoIndexes,

    /// <summary>The standard sample plus a WITHOUT ROWID table and a table whose rows span overflow pages.</summary>
    WithoutRowidAndOverflow,
}

/// <summary>
/// The corruption generator: a deterministic sample database (several tables, indexes, an FTS5 table,
/// a few thousand rows, a deleted range so the file has free pages), a snapshot of every original row,
/// and damage applied to a closed copy. Damage is written with a FileStream on purpose: it simulates
/// what the howtocorrupt page describes, on a file no connection has open.
/// </summary>
internal static class DamagedDatabases
{
    public const string SchemaSql = """
        CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, created REAL);
        CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, amount REAL, status TEXT, note TEXT);
        CREATE INDEX orders_by_customer ON orders(customer_id);
        CREATE TABLE events(ts INTEGER NOT NULL, kind TEXT NOT NULL, payload BLOB);
        CREATE INDEX events_by_kind ON events(kind, ts);
        CREATE TABLE tags(id INTEGER PRIMARY KEY, label TEXT UNIQUE);
        CREATE VIRTUAL TABLE docs USING fts5(title, body);
        """;

    /// <summary>The user-visible tables compared row by row (the FTS table through its content).</summary>
    public static readonly string[] Tables = ["customers", "orders", "events", "tags", "docs"];

    /// <summary>The tables only the <see cref="SampleKind.WithoutRowidAndOverflow"/> sample has.</summary>
    private static readonly string[] VariantTables = ["kv", "notes"];

    private const string ExtraSchemaSql = """
        CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER NOT NULL, tag BLOB) WITHOUT ROWID;
        CREATE TABLE notes(id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT);
        """;

    private static readonly string[] Statuses = ["new", "paid", "shipped", "returned"];
    private static readonly string[] Kinds = ["login", "logout", "error", "write", "read"];
    private static readonly string[] Words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"];

    /// <summary>Creates the sample database (WAL mode, checkpointed and closed cleanly, as Walden leaves a file).</summary>
    /// <param name="path">The database to create.</param>
    /// <param name="emptyBackupPath">If set, a backup (SQLite's backup API, so page numbers are kept) taken right after the schema was created, before any row: the "schema from a backup" source, holding no data.</param>
    /// <param name="seed">The data's seed.</param>
    /// <param name="sample">Which sample: the standard one unless a bit-flip variant asks for another.</param>
    public static void Create(string path, string? emptyBackupPath = null, int seed = 4, SampleKind sample = SampleKind.Standard)
    {
        var random = new Random(seed);
        using (var connection = Sql.OpenDirect(path))
        {
            connection.Exec("PRAGMA page_size=4096; PRAGMA journal_mode=WAL;");
            connection.Exec(sample switch
            {
                SampleKind.NoIndexes => string.Join('\n', SchemaSql.Split('\n').Where(l => !l.Contains("CREATE INDEX", StringComparison.Ordinal)))
                    .Replace("label TEXT UNIQUE", "label TEXT", StringComparison.Ordinal),
                SampleKind.WithoutRowidAndOverflow => SchemaSql + "\n" + ExtraSchemaSql,
                _ => SchemaSql,
            });
            if (emptyBackupPath is not null)
            {
                using var backup = Sql.OpenDirect(emptyBackupPath);
                connection.BackupDatabase(backup);
            }

            using var transaction = connection.BeginTransaction();
            Insert(connection, "INSERT INTO customers(name, email, created) VALUES ($a, $b, $c)", 800, i =>
                [$"customer {i} {Word(random)}", i % 7 == 0 ? null : $"c{i}@example.org", 1_700_000_000 + i * 97.25]);
            Insert(connection, "INSERT INTO orders(customer_id, amount, status, note) VALUES ($a, $b, $c, $d)", 3000, i =>
                [1 + random.Next(800), Math.Round(random.NextDouble() * 1000, 2), Statuses[random.Next(Statuses.Length)], i % 5 == 0 ? Sentence(random, 12) : null]);
            Insert(connection, "INSERT INTO events(ts, kind, payload) VALUES ($a, $b, $c)", 2000, i =>
            {
                var payload = new byte[16 + random.Next(48)];
                random.NextBytes(payload);
                return [1_700_000_000_000L + i * 1000, Kinds[random.Next(Kinds.Length)], payload];
            });
            Insert(connection, "INSERT INTO tags(label) VALUES ($a)", 100, i => [$"tag-{i}-{Word(random)}"]);
            Insert(connection, "INSERT INTO docs(title, body) VALUES ($a, $b)", 400, i =>
                [$"doc {i} {Word(random)}", Sentence(random, i % 50 == 0 ? 900 : 40)]); // a few bodies span overflow pages
            if (sample == SampleKind.WithoutRowidAndOverflow)
            {
                Insert(connection, "INSERT INTO kv(k, v, tag) VALUES ($a, $b, $c)", 1500, i =>
                    [$"key-{random.Next(1_000_000):D7}-{i}", random.Next(), i % 3 == 0 ? null : new[] { (byte)i, (byte)(i >> 8) }]);
                Insert(connection, "INSERT INTO notes(title, body) VALUES ($a, $b)", 80, i =>
                    [$"note {i}", Sentence(random, 600 + random.Next(1200))]); // 4 to 13 KB: every body spans overflow pages
            }

            // A deleted range leaves free pages holding deleted rows: recovery must not bring them back.
            connection.Exec("DELETE FROM events WHERE rowid BETWEEN 600 AND 900");
            transaction.Commit();
            connection.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
        }
    }

    /// <summary>Every row of the user tables, as "table|rowid|values" keys.</summary>
    public static HashSet<string> Rows(string path)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        return Rows(connection);
    }

    public static HashSet<string> Rows(SqliteConnection connection)
    {
        var rows = new HashSet<string>(StringComparer.Ordinal);
        foreach (var table in Tables.Concat(VariantTables))
        {
            if (table == "docs")
            {
                // The full-text table through its content: .recover leaves the FTS index unusable ("fts5: corruption found"),
                // so its rows are counted from docs_content for both tools, which is the fairer count for .recover.
                AddRows(connection, rows, table, "SELECT id, c0, c1 FROM docs_content");
            }
            else if (table == "kv")
            {
                AddRows(connection, rows, table, "SELECT * FROM kv"); // WITHOUT ROWID: the key is the primary key
            }
            else
            {
                AddRows(connection, rows, table, $"SELECT rowid, * FROM {table}");
            }
        }

        return rows;
    }

    private static void AddRows(SqliteConnection connection, HashSet<string> rows, string table, string sql)
    {
            try
            {
                using var command = connection.CreateCommand();
                command.CommandText = sql;
                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    var key = new StringBuilder(table);
                    for (var i = 0; i < reader.FieldCount; i++)
                    {
                        key.Append('|').Append(Render(reader.IsDBNull(i) ? null : reader.GetValue(i)));
                    }

                    rows.Add(key.ToString());
                }
            }
            catch (SqliteException)
            {
                // the table is missing or unreadable in this database: none of its rows came back
            }
    }

    /// <summary>Applies one kind of damage to a closed database file.</summary>
    /// <param name="flips">For <see cref="DamageKind.RandomBitFlips"/>: how many bits.</param>
    public static string Damage(string path, DamageKind kind, int seed = 7, int flips = 300)
    {
        var random = new Random(seed);
        var (pageSize, pages) = PageInfo(path);
        var description = kind switch
        {
            DamageKind.ZeroedPages => Overwrite(path, pageSize, Enumerable.Range(pages / 2, 8), _ => new byte[pageSize]),
            DamageKind.GarbagePages => Overwrite(path, pageSize, Enumerable.Range(0, 6).Select(_ => 2 + random.Next(pages - 1)).Distinct(), _ => Garbage(random, pageSize)),
            DamageKind.InteriorPages => Overwrite(path, pageSize, InteriorPages(path, "orders", "customers"), _ => Garbage(random, pageSize)),
            DamageKind.Truncation => Truncate(path, pageSize, pages),
            DamageKind.Header => WriteAt(path, 0, Garbage(random, 512), "the first 512 bytes (header and schema page b-tree header) overwritten with random bytes"),
            DamageKind.SchemaPage => Overwrite(path, pageSize, [1], _ => new byte[pageSize]),
            DamageKind.BitFlips => FlipBits(path, pageSize, BTreePages(path), random, 48),
            DamageKind.RandomBitFlips => FlipAnywhere(path, pageSize, BTreePages(path), random, flips),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return description;
    }

    /// <summary>Runs the 3.54.1 shell's recovery, <c>sqlite3 bad.db .recover | sqlite3 out.db</c>, with the pipe in .NET.</summary>
    public static async Task ShellRecoverAsync(string damaged, string output)
    {
        using var producer = Start(damaged, ".recover", redirectInput: false);
        using var consumer = Start(output, null, redirectInput: true);
        var producerErrors = producer.StandardError.ReadToEndAsync();
        var consumerOutput = consumer.StandardOutput.ReadToEndAsync();
        var consumerErrors = consumer.StandardError.ReadToEndAsync();
        await producer.StandardOutput.BaseStream.CopyToAsync(consumer.StandardInput.BaseStream);
        consumer.StandardInput.Close();
        await producer.WaitForExitAsync();
        await consumer.WaitForExitAsync();
        await Task.WhenAll(producerErrors, consumerOutput, consumerErrors);
    }

    private static Process Start(string database, string? command, bool redirectInput)
    {
        var info = new ProcessStartInfo(SqliteShell.BinaryPath)
        {
            RedirectStandardInput = redirectInput,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(database);
        if (command is not null)
        {
            info.ArgumentList.Add(command);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("sqlite3 did not start");
    }

    private static (int PageSize, int Pages) PageInfo(string path)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        return ((int)connection.Scalar<long>("PRAGMA page_size"), (int)connection.Scalar<long>("PRAGMA page_count"));
    }

    private static List<int> InteriorPages(string path, params string[] tables)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT pageno FROM dbstat WHERE pagetype = 'internal' AND name IN ({string.Join(", ", tables.Select(t => $"'{t}'"))})";
        using var reader = command.ExecuteReader();
        var pages = new List<int>();
        while (reader.Read())
        {
            pages.Add((int)reader.GetInt64(0));
        }

        return pages.Count > 0 ? pages : throw new InvalidOperationException("The sample has no interior pages in those tables; make it larger.");
    }

    private static List<int> BTreePages(string path)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT pageno FROM dbstat WHERE pagetype IN ('internal', 'leaf') AND pageno > 1 ORDER BY pageno";
        using var reader = command.ExecuteReader();
        var pages = new List<int>();
        while (reader.Read())
        {
            pages.Add((int)reader.GetInt64(0));
        }

        return pages;
    }

    private static string Overwrite(string path, int pageSize, IEnumerable<int> pages, Func<int, byte[]> content)
    {
        var list = pages.ToList();
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        foreach (var page in list)
        {
            stream.Position = (long)(page - 1) * pageSize;
            stream.Write(content(page));
        }

        stream.Flush(flushToDisk: false);
        return $"pages {string.Join(",", list)} overwritten";
    }

    private static string WriteAt(string path, long offset, byte[] bytes, string description)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.Position = offset;
        stream.Write(bytes);
        return description;
    }

    private static string Truncate(string path, int pageSize, int pages)
    {
        var keep = (long)(pages * 3 / 4) * pageSize;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.SetLength(keep);
        return $"cut from {pages} to {pages * 3 / 4} pages";
    }

    private static string FlipBits(string path, int pageSize, List<int> pages, Random random, int flips)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        var touched = new SortedSet<int>();
        var header = new byte[64];
        for (var i = 0; i < flips; i++)
        {
            var page = pages[random.Next(pages.Count)];
            stream.Position = (long)(page - 1) * pageSize;
            stream.ReadExactly(header);
            var cells = (header[3] << 8) | header[4];
            var headerSize = header[0] is 2 or 5 ? 12 : 8;
            // Within the page header and the cell pointer array: the structure SQLite checks.
            var offset = random.Next(Math.Min(64, headerSize + 2 * cells));
            header[offset] ^= (byte)(1 << random.Next(8));
            stream.Position = (long)(page - 1) * pageSize;
            stream.Write(header);
            touched.Add(page);
        }

        return $"{flips} bits flipped in pages {string.Join(",", touched)}";
    }

    private static string FlipAnywhere(string path, int pageSize, List<int> pages, Random random, int flips)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        var one = new byte[1];
        for (var i = 0; i < flips; i++)
        {
            stream.Position = ((long)(pages[random.Next(pages.Count)] - 1) * pageSize) + random.Next(pageSize);
            stream.ReadExactly(one);
            one[0] ^= (byte)(1 << random.Next(8));
            stream.Position--;
            stream.Write(one);
        }

        return $"{flips} bits flipped anywhere in {pages.Count} b-tree pages";
    }

    private static byte[] Garbage(Random random, int size)
    {
        var bytes = new byte[size];
        random.NextBytes(bytes);
        return bytes;
    }

    private static void Insert(SqliteConnection connection, string sql, int count, Func<int, object?[]> values)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        var names = new[] { "$a", "$b", "$c", "$d" };
        for (var i = 0; i < count; i++)
        {
            var row = values(i);
            command.Parameters.Clear();
            for (var j = 0; j < row.Length; j++)
            {
                command.Parameters.AddWithValue(names[j], row[j] ?? DBNull.Value);
            }

            command.ExecuteNonQuery();
        }
    }

    private static string Word(Random random) => Words[random.Next(Words.Length)];

    private static string Sentence(Random random, int words) => string.Join(' ', Enumerable.Range(0, words).Select(_ => Word(random)));

    private static string Render(object? value) => value switch
    {
        null => "NULL",
        byte[] bytes => "x" + Convert.ToHexString(bytes),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString()!,
    };
}
