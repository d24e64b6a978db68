using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>
/// Schema objects whose stored content the application's own functions or collations compute (a partial index whose
/// WHERE calls one, an expression index, an index on a generated column, a STORED generated column, a UNIQUE index in
/// an application collation), in databases written by Python's sqlite3 as the application would. Recovered with
/// stand-ins, such an object is wrong for the application: it is named with the statement that rebuilds it, an
/// in-place recovery refuses to swap it in, and with the application's definitions Walden rebuilds it itself.
/// </summary>
public sealed class StandInDependentRecoveryTests
{
    private const string Program = """
        import sqlite3, sys
        path, case = sys.argv[1], sys.argv[2]
        con = sqlite3.connect(path)
        con.create_function("is_open", 1, lambda s: 1 if s == "open" else 0, deterministic=True)
        con.create_function("norm_name", 1, lambda s: s.strip().lower() if s else None, deterministic=True)
        con.create_function("app_code", 1, lambda s: "X-" + s.split("-")[1] if s else None, deterministic=True)
        con.create_function("band", 1, lambda s: "band %d" % (int(s.split("-")[1]) % 3) if s else None, deterministic=True)
        con.create_collation("FOLD", lambda a, b: (a.lower() > b.lower()) - (a.lower() < b.lower()))
        if case == "partial":
            con.executescript('''
            CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER NOT NULL, status TEXT CHECK(is_open(status) IS NOT NULL));
            CREATE INDEX open_orders ON orders(customer) WHERE is_open(status);
            CREATE VIEW open_view AS SELECT id FROM orders WHERE is_open(status);
            CREATE TABLE log(what TEXT);
            CREATE TRIGGER orders_log AFTER INSERT ON orders WHEN is_open(new.status) BEGIN INSERT INTO log VALUES ('open'); END;
            ''')
            con.executemany("INSERT INTO orders(customer, status) VALUES (?, ?)", [(i % 50, "open" if i % 2 else "closed") for i in range(1000)])
        elif case == "expression":
            con.execute("CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT)")
            con.execute("CREATE INDEX people_key ON people(norm_name(name))")
            con.executemany("INSERT INTO people(name) VALUES (?)", [("  Person %d " % i,) for i in range(1000)])
        elif case == "generated":
            con.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, sku TEXT NOT NULL, "
                        "code TEXT GENERATED ALWAYS AS (app_code(sku)) VIRTUAL, price_band TEXT GENERATED ALWAYS AS (band(sku)) STORED)")
            con.execute("CREATE INDEX items_code ON items(code)")
            con.executemany("INSERT INTO items(sku) VALUES (?)", [("sku-%d" % i,) for i in range(1000)])
        elif case == "collate":
            con.execute("CREATE TABLE tags(id INTEGER PRIMARY KEY, label TEXT)")
            con.execute("CREATE UNIQUE INDEX tags_label ON tags(label COLLATE FOLD)")
            con.executemany("INSERT INTO tags(label) VALUES (?)", [(("TAG %d" if i % 2 else "tag %d") % i,) for i in range(1000)])
        con.commit()
        con.close()
        """;

    public static TheoryData<string> Cases => new() { "partial", "expression", "generated", "collate" };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task RecoverTo_AnObjectAStandInComputed_IsNamedWithItsRebuild_AndIsRightOnceTheApplicationRunsIt(string name)
    {
        var sample = Samples[name];
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path, name);

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"));

        Assert.True(report.Usable, string.Join("\n", report.Notes));
        foreach (var expected in sample.Objects)
        {
            Assert.Contains(report.ObjectsToRebuild, line => line.Contains(expected, StringComparison.Ordinal));
            Assert.Contains(report.Notes, line => line.Contains(expected, StringComparison.Ordinal));
        }

        Assert.Equal(sample.Objects.Length, report.ObjectsToRebuild.Count);
        using var app = OpenAsApplication(temp.File("recovered.db"));
        Assert.NotEqual(sample.Expected, app.Scalar<long>(sample.Query)); // what the application would get from the file as recovered
        foreach (var statement in report.ObjectsToRebuild.Select(line => Regex.Match(line, "runs '(.+)'$").Groups[1].Value))
        {
            app.Exec(statement);
        }

        Assert.Equal(sample.Expected, app.Scalar<long>(sample.Query));
        Assert.Equal(sample.Expected, app.Scalar<long>(sample.Check));
        Assert.Equal("ok", app.Scalar<string>("PRAGMA integrity_check"));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task RecoverInPlace_AnObjectAStandInComputed_RefusesNamingItAndLeavesTheFileUntouched(string name)
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path, name);
        var before = await File.ReadAllBytesAsync(path);

        var error = await Assert.ThrowsAsync<WaldenException>(() => WaldenRecovery.RecoverInPlaceAsync(path));

        Assert.Contains(Samples[name].Objects[0], error.Message, StringComparison.Ordinal);
        Assert.Contains("ConfigureConnection", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
        Assert.False(Directory.Exists(temp.File("walden-quarantine")));
        Assert.Equal(["app.db"], Directory.GetFiles(temp.Path).Select(Path.GetFileName));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task RecoverInPlace_WithTheApplicationsDefinitions_RebuildsWhatStandInsComputed_AndSwapsInAWholeFile(string name)
    {
        var sample = Samples[name];
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path, name);

        var report = await WaldenRecovery.RecoverInPlaceAsync(path, new WaldenRecoveryOptions { ConfigureConnection = Register });

        Assert.True(report.Usable, string.Join("\n", report.Notes));
        Assert.Empty(report.ObjectsToRebuild);
        using var app = OpenAsApplication(path);
        Assert.Equal(sample.Expected, app.Scalar<long>(sample.Query)); // no REINDEX by the application
        Assert.Equal(sample.Expected, app.Scalar<long>(sample.Check));
        Assert.Equal("ok", app.Scalar<string>("PRAGMA integrity_check"));
    }

    [Fact]
    public async Task Recovery_ViewsTriggersAndChecksCallingAppFunctions_AreNamedButComeOutAsWritten()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path, "partial");

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"));

        var line = Assert.Single(report.StandIns, l => l.Contains("is_open", StringComparison.Ordinal));
        Assert.Contains("view open_view", line, StringComparison.Ordinal);
        Assert.Contains("trigger orders_log", line, StringComparison.Ordinal);
        Assert.Contains("table orders", line, StringComparison.Ordinal);
        Assert.DoesNotContain(report.ObjectsToRebuild, l => l.Contains("open_view", StringComparison.Ordinal) || l.Contains("orders_log", StringComparison.Ordinal));
        using var app = OpenAsApplication(temp.File("recovered.db"));
        app.Exec("REINDEX open_orders"); // as the report says: the view's query reads through the partial index
        Assert.Equal(500, app.Scalar<long>("SELECT count(*) FROM open_view"));
        app.Exec("INSERT INTO orders(customer, status) VALUES (1, 'open')");
        Assert.Equal(501, app.Scalar<long>("SELECT count(*) FROM log")); // the trigger fires with the application's function
    }

    private sealed record Sample(string[] Objects, string Query, string Check, long Expected);

    /// <summary>Per case: the objects to name, a query through the object, the same answer without it, and the right count.</summary>
    private static readonly Dictionary<string, Sample> Samples = new()
    {
        ["partial"] = new(["index open_orders"],
            "SELECT count(*) FROM orders INDEXED BY open_orders WHERE is_open(status) AND customer >= 0",
            "SELECT count(*) FROM orders NOT INDEXED WHERE is_open(status) AND customer >= 0", 500),
        ["expression"] = new(["index people_key"],
            "SELECT count(*) FROM people INDEXED BY people_key WHERE norm_name(name) = 'person 7'",
            "SELECT count(*) FROM people NOT INDEXED WHERE norm_name(name) = 'person 7'", 1),
        ["generated"] = new(["index items_code", "generated column items.price_band"],
            "SELECT count(*) FROM items INDEXED BY items_code WHERE code = 'X-7' AND price_band = 'band 1'",
            "SELECT count(*) FROM items NOT INDEXED WHERE app_code(sku) = 'X-7' AND band(sku) = 'band 1'", 1),
        ["collate"] = new(["index tags_label"],
            "SELECT count(*) FROM tags INDEXED BY tags_label WHERE label = 'Tag 5' COLLATE FOLD",
            "SELECT count(*) FROM tags NOT INDEXED WHERE lower(label) = 'tag 5'", 1),
    };

    private static void Register(SqliteConnection connection)
    {
        connection.CreateFunction("is_open", (string? s) => s == "open" ? 1 : 0, isDeterministic: true);
        connection.CreateFunction("norm_name", (string? s) => s?.Trim().ToLowerInvariant(), isDeterministic: true);
        connection.CreateFunction("app_code", (string? s) => s is null ? null : "X-" + s.Split('-')[1], isDeterministic: true);
        connection.CreateFunction("band", (string? s) => s is null ? null : $"band {int.Parse(s.Split('-')[1], System.Globalization.CultureInfo.InvariantCulture) % 3}", isDeterministic: true);
        connection.CreateCollation("FOLD", (a, b) => string.Compare(a.ToLowerInvariant(), b.ToLowerInvariant(), StringComparison.Ordinal));
    }

    private static SqliteConnection OpenAsApplication(string path)
    {
        var connection = Sql.OpenDirect(path);
        Register(connection);
        return connection;
    }
}
