using System.Text;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>
/// A schema row whose CREATE statement no longer parses (a flipped byte, an unknown keyword, a zeroed span) never makes its object
/// vanish without a word: a table's rows, its b-tree intact, come back into the table recreated from --schema-from, or without it
/// sit in lost_and_found under the table's root page, named in the report, never merged into another table of the same shape, and
/// the result is not usable; a damaged index, view or trigger is recreated from --schema-from or named with its text. Before, the
/// table and its rows were gone with "usable", exit 0, and with --schema-from the table came back empty.
/// </summary>
public sealed class DamagedCreateStatementTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string, string> Tables => new()
    {
        { "CREATE TABLE victim(k TEXT NOT NULL, v TEXT)", "(", ")" },
        { "CREATE TABLE victim(k TEXT NOT NULL, v TEXT)", "TABLE victim", "TABLX victim" },
        { "CREATE TABLE victim(k TEXT NOT NULL, v TEXT)", "NOT NULL, v TEXT)", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0" },
        { "CREATE TABLE victim(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID", "(", ")" },
        { "CREATE TABLE victim(id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT NOT NULL, v TEXT)", "AUTOINCREMENT", "AUTOINCREMENX" },
    };

    [Theory]
    [MemberData(nameof(Tables))]
    public async Task Recover_OfATableWhoseCreateStatementIsDamaged_GivesItsRowsBack(string create, string find, string replace)
    {
        var (good, bad) = await MakeAsync(create, find, replace);
        var rootPage = Scalar(good, "SELECT rootpage FROM sqlite_schema WHERE name = 'victim'");

        var alone = await WaldenRecovery.RecoverToAsync(bad, _dir.File("alone.db"));

        Assert.False(alone.Usable);
        Assert.Contains(alone.MissingObjects, m => m.StartsWith($"table victim: schema damaged, rows in lost_and_found (rootpage {rootPage})", StringComparison.Ordinal));
        Assert.Equal(200, Scalar(_dir.File("alone.db"), $"SELECT count(*) FROM lost_and_found WHERE rootpgno = {rootPage}"));
        Assert.Equal(200, alone.Tables["other"]); // the victim's rows, of the same shape, are not merged into it
        var cli = await WaldenCli.RunAsync("recover", bad, "--output", _dir.File("cli.db"));
        Assert.True(cli.ExitCode == 1, cli.Stdout + cli.Stderr);
        Assert.Contains("schema damaged, rows in lost_and_found", cli.Stdout, StringComparison.Ordinal);

        var known = await WaldenRecovery.RecoverToAsync(bad, _dir.File("known.db"), new WaldenRecoveryOptions { SchemaFrom = good });

        Assert.True(known.Usable, string.Join("\n", known.MissingObjects.Concat(known.Notes)));
        Assert.Equal(Rows(good, "victim"), Rows(_dir.File("known.db"), "victim"));
        Assert.Equal(Rows(good, "other"), Rows(_dir.File("known.db"), "other"));
        Assert.Equal(1, Scalar(_dir.File("known.db"), "SELECT count(*) FROM sqlite_schema WHERE name = 'victim_k'"));
    }

    [Theory]
    [InlineData("CREATE VIEW big AS", "VIEW", "#IEW", "view big")]
    [InlineData("CREATE TRIGGER audit_insert AFTER INSERT ON other", "other", "\0\0\0\0\0", "trigger audit_insert")]
    [InlineData("CREATE INDEX victim_k ON victim(k)", "(k)", "(k\0", "index victim_k")]
    public async Task Recover_OfAViewTriggerOrIndexWhoseCreateStatementIsDamaged_NamesIt_OrRecreatesItFromTheKnownSchema(
        string statement, string find, string replace, string named)
    {
        var (good, bad) = await MakeAsync("CREATE TABLE victim(k TEXT NOT NULL, v TEXT)", find, replace, statement);

        var alone = await WaldenRecovery.RecoverToAsync(bad, _dir.File("alone.db"));

        Assert.False(alone.Usable);
        var line = Assert.Single(alone.MissingObjects);
        Assert.StartsWith(named + " (on ", line, StringComparison.Ordinal);
        Assert.Contains("its CREATE statement is damaged", line, StringComparison.Ordinal);
        Assert.Equal(200, alone.Tables["victim"]);

        var known = await WaldenRecovery.RecoverToAsync(bad, _dir.File("known.db"), new WaldenRecoveryOptions { SchemaFrom = good });

        Assert.True(known.Usable, string.Join("\n", known.MissingObjects.Concat(known.Notes)));
        var name = named.Split(' ')[1];
        Assert.Equal(1, Scalar(_dir.File("known.db"), $"SELECT count(*) FROM sqlite_schema WHERE name = '{name}'"));
    }

    /// <summary>A database as a Python program leaves it (the damaged table, one of the same shape, an index, a view, a trigger), and a copy with one span of its schema's SQL replaced.</summary>
    private async Task<(string Good, string Bad)> MakeAsync(string create, string find, string replace, string? statement = null)
    {
        var good = _dir.File("good.db");
        var other = create.Replace("victim", "other", StringComparison.Ordinal);
        await ForeignProgram.PythonAsync("""
            import sqlite3, sys
            con = sqlite3.connect(sys.argv[1])
            con.execute(sys.argv[2])
            con.execute(sys.argv[3])
            con.execute("CREATE INDEX victim_k ON victim(k)")
            con.execute("CREATE TABLE log(msg TEXT)")
            con.execute("CREATE VIEW big AS SELECT * FROM other WHERE v > 'v5'")
            con.execute("CREATE TRIGGER audit_insert AFTER INSERT ON other BEGIN INSERT INTO log VALUES ('new'); END")
            for i in range(200):
                con.execute("INSERT INTO victim(k, v) VALUES (?, ?)", ("key %d" % i, "v%d" % i * 20))
                con.execute("INSERT INTO other(k, v) VALUES (?, ?)", ("other %d" % i, "w%d" % i))
            con.commit()
            con.close()
            """, good, create, other);
        var bytes = File.ReadAllBytes(good);
        statement ??= create;
        var at = bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(statement));
        Assert.True(at >= 0, $"'{statement}' not found in the file");
        at += statement.IndexOf(find, StringComparison.Ordinal); // the span inside that statement
        Assert.Equal(find.Length, replace.Length);
        Encoding.ASCII.GetBytes(replace).CopyTo(bytes, at);
        var bad = _dir.File("bad.db");
        File.WriteAllBytes(bad, bytes);
        return (good, bad);
    }

    private static long Scalar(string path, string sql)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        return connection.Scalar<long>(sql);
    }

    private static List<string> Rows(string path, string table)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT k || '|' || v FROM {table} ORDER BY k";
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }
}
