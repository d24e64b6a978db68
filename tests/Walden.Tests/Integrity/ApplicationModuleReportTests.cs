using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Integrity;

/// <summary>
/// Virtual tables whose module or tokenizer the application provides: FTS3, FTS4 and FTS5 with the application's tokenizer,
/// and a table of a module Walden does not have at all (an extension the application loads; here a full-text table whose
/// module name is changed in the schema, as such a program leaves it, so its shadow tables stay behind as ordinary tables).
/// Every report of tables and rows names them and says what it counted or verified; none drops one silently. Before,
/// 'walden recover' left FTS3/FTS4 tables with an application tokenizer out of its row counts (their rows were in the
/// output), and every command passed over a table of an unknown module without a word.
/// </summary>
public sealed class ApplicationModuleReportTests : IDisposable
{
    /// <summary>A plain table, then the virtual table (argv 2, with argv 3 in it) and its rows; argv 3 becomes argv 4 in the schema.</summary>
    private const string Script = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(50):
            con.execute("INSERT INTO plain(v) VALUES (?)", ("row%d" % i,))
        con.execute(sys.argv[2].replace("NAME", sys.argv[3]))
        con.execute("INSERT INTO docs(rowid, body) VALUES (1, 'hello world'), (2, 'full text'), (3, 'third row')")
        con.execute("PRAGMA writable_schema=ON")
        con.execute("UPDATE sqlite_schema SET sql = replace(sql, ?, ?) WHERE name = 'docs'", (sys.argv[3], sys.argv[4]))
        con.close()
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// The table's schema (NAME: the built-in name written first, then the application's), and how its rows are counted:
    /// "read" (SQLite reads it without the tokenizer), the shadow table they are counted from, or "none".
    /// </summary>
    public static TheoryData<string, string, string, string> Tables => new()
    {
        { "CREATE VIRTUAL TABLE docs USING fts4(body, tokenize=NAME)", "simple", "mytok", "docs_content" },
        { "CREATE VIRTUAL TABLE docs USING fts3(body, tokenize=NAME)", "porter", "app_stemmer", "docs_content" },
        { "CREATE VIRTUAL TABLE docs USING fts4(body, content='', tokenize=NAME)", "simple", "mytok", "docs_docsize" },
        { "CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='NAME')", "unicode61", "mytok", "read" },
        { "CREATE VIRTUAL TABLE docs USING NAME(body)", "fts5", "app_vectors", "none" },
        { "CREATE VIRTUAL TABLE docs USING NAME(body)", "fts4", "spatial_index", "none" },
    };

    [Theory]
    [MemberData(nameof(Tables))]
    public async Task Recover_NamesEveryVirtualTableItCouldNotRead_AndCountsTheRowsItCan(string create, string builtIn, string application, string counted)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(Script, path, create, builtIn, application);

        var recover = await WaldenCli.RunAsync("recover", path, "--output", _dir.File("recovered.db"), "--json");

        Assert.True(recover.ExitCode == 0, recover.Stdout + recover.Stderr);
        using var json = JsonDocument.Parse(recover.Stdout);
        var report = json.RootElement.GetProperty("report");
        var tables = report.GetProperty("tables");
        Assert.Equal(50, tables.GetProperty("plain").GetInt64());
        var notReadable = report.GetProperty("tablesNotReadable").EnumerateArray().Select(n => n.GetString()!).ToList();
        if (counted == "read")
        {
            Assert.Equal(3, tables.GetProperty("docs").GetInt64());
            Assert.Empty(notReadable);
            return;
        }

        var named = Assert.Single(notReadable, n => n.Contains("'docs'", StringComparison.Ordinal));
        Assert.Contains(report.GetProperty("notes").EnumerateArray(), n => n.GetString() == named);
        if (counted != "none")
        {
            Assert.Equal(3, tables.GetProperty("docs").GetInt64());
            Assert.Contains($"'{counted}'", named, StringComparison.Ordinal);
        }
        else
        {
            Assert.False(tables.TryGetProperty("docs", out _));
            Assert.Contains($"module '{application}'", named, StringComparison.Ordinal);
            Assert.Contains("not counted", named, StringComparison.Ordinal);
            Assert.Contains("'docs_content'", named, StringComparison.Ordinal); // where its rows are, counted as a table
            Assert.Equal(3, tables.GetProperty("docs_content").GetInt64());
        }
    }

    [Theory]
    [InlineData("fts5", "app_vectors")]
    [InlineData("fts4", "spatial_index")]
    public async Task CheckBackupAndDoctor_OfATableOfAModuleWaldenDoesNotHave_NameItAsNotVerified(string builtIn, string application)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(Script, path, "CREATE VIRTUAL TABLE docs USING NAME(body)", builtIn, application);
        var before = ForeignProgram.Snapshot(_dir.Path);

        var check = await WaldenCli.RunAsync("check", path, "--full", "--json");
        var backup = await WaldenCli.RunAsync("backup", path, _dir.File("backups"), "--json");
        var doctor = await WaldenCli.RunAsync("doctor", path, "--json");

        bool NamesIt(string? note) => note is not null && note.Contains("'docs' (module '" + application + "'", StringComparison.Ordinal)
            && note.Contains("not verified", StringComparison.Ordinal);
        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        using var checkJson = JsonDocument.Parse(check.Stdout);
        Assert.Equal("healthy", checkJson.RootElement.GetProperty("status").GetString());
        Assert.Contains(checkJson.RootElement.GetProperty("notes").EnumerateArray(), n => NamesIt(n.GetString()));
        Assert.True(backup.ExitCode == 0, backup.Stdout + backup.Stderr);
        using var backupJson = JsonDocument.Parse(backup.Stdout);
        var copy = backupJson.RootElement.GetProperty("backup");
        Assert.Equal(3, copy.GetProperty("tableRows").GetProperty("docs_content").GetInt64());
        Assert.Contains(copy.GetProperty("notes").EnumerateArray(), n => NamesIt(n.GetString()));
        Assert.True(doctor.ExitCode == 0, doctor.Stdout + doctor.Stderr);
        using var doctorJson = JsonDocument.Parse(doctor.Stdout);
        Assert.Contains(doctorJson.RootElement.GetProperty("findings").EnumerateArray(), f => NamesIt(f.GetProperty("seen").GetString()));
        Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path).Where(f => !f.Key.StartsWith("backups", StringComparison.Ordinal)));
    }
}
