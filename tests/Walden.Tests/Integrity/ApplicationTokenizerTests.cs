using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Integrity;

/// <summary>
/// Full-text tables whose tokenizer the program that wrote the file registers itself (fts3_tokenizer, FTS5's
/// xCreateTokenizer; here written into the schema as such a program leaves it): 'walden check' and 'walden backup' verify
/// everything else, say which table's full-text index went unverified and why, and change nothing; damage elsewhere in
/// the file is still found. Before, FTS3/4 failed the whole check ("unknown tokenizer"), FTS5 with content failed it ("SQL
/// logic error"), and an FTS5 table whose check needs no tokenizer was called healthy without a word.
/// </summary>
public sealed class ApplicationTokenizerTests : IDisposable
{
    /// <summary>Creates the table with a built-in tokenizer and rows, then names the application's tokenizer in its schema.</summary>
    private const string Script = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT)")
        con.execute("CREATE INDEX plain_v ON plain(v)")
        for i in range(50):
            con.execute("INSERT INTO plain(v) VALUES (?)", ("row%d" % i,))
        con.execute("CREATE TABLE src(id INTEGER PRIMARY KEY, body TEXT)")
        con.execute("INSERT INTO src(body) VALUES ('hello world'), ('full text')")
        con.execute(sys.argv[2].replace("TOKENIZER", sys.argv[3]))
        con.execute(sys.argv[4])
        con.execute("PRAGMA writable_schema=ON")
        con.execute("UPDATE sqlite_schema SET sql = replace(sql, ?, ?) WHERE name = 'docs'", (sys.argv[3], sys.argv[5]))
        if sys.argv[6] == "damage":
            con.execute("UPDATE sqlite_schema SET sql = 'CREATE INDEX plain_v ON plain(v DESC)' WHERE name = 'plain_v'")
        con.close()
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, string, string, string> Tables => new()
    {
        { "CREATE VIRTUAL TABLE docs USING fts4(body, tokenize=TOKENIZER)", "simple", "mytok", "INSERT INTO docs VALUES ('hello world')" },
        { "CREATE VIRTUAL TABLE docs USING fts3(body, tokenize=TOKENIZER)", "porter", "app_stemmer", "INSERT INTO docs VALUES ('hello world')" },
        { "CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='TOKENIZER')", "unicode61", "mytok", "INSERT INTO docs VALUES ('hello world')" },
        { "CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='porter TOKENIZER')", "unicode61", "mytok", "INSERT INTO docs VALUES ('hello world')" },
        { "CREATE VIRTUAL TABLE docs USING fts5(body, content='src', content_rowid='id', tokenize='TOKENIZER')", "unicode61", "mytok",
            "INSERT INTO docs(docs) VALUES ('rebuild')" },
        { "CREATE VIRTUAL TABLE docs USING fts5(body, content='', tokenize='TOKENIZER')", "ascii", "mytok",
            "INSERT INTO docs(rowid, body) VALUES (1, 'hello world')" },
        { "CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='TOKENIZER')", "unicode61", "mytok", "SELECT 1" },
    };

    [Theory]
    [MemberData(nameof(Tables))]
    public async Task OpeningAFileWithTheApplicationsTokenizer_InTheEngine_OpensOrNamesTheTableAndTokenizer_NeverARawError(
        string create, string builtIn, string application, string fill)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(Script, path, create, builtIn, fill, application, "none");
        var before = ForeignProgram.Snapshot(_dir.Path);

        try
        {
            // Opens when the check at open needs no tokenizer (external content, contentless, empty FTS5 tables).
            await using var db = await WaldenDatabase.OpenAsync(path);
        }
        catch (WaldenConfigurationException refused)
        {
            Assert.Contains("'docs'", refused.Message, StringComparison.Ordinal);
            Assert.Contains(application, refused.Message, StringComparison.Ordinal);
            Assert.Contains("ConfigureConnection", refused.Message, StringComparison.Ordinal);
            Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path)); // refused before anything was written
        }
    }

    [Theory]
    [MemberData(nameof(Tables))]
    public async Task CheckAndBackup_OfAFullTextTableWithTheApplicationsTokenizer_VerifyTheRest_AndNameWhatWentUnverified(
        string create, string builtIn, string application, string fill)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(Script, path, create, builtIn, fill, application, "none");
        var before = ForeignProgram.Snapshot(_dir.Path);

        var check = await WaldenCli.RunAsync("check", path, "--full", "--json");
        var quick = await WaldenCli.RunAsync("check", path);
        var backup = await WaldenCli.RunAsync("backup", path, _dir.File("backups"), "--json");

        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        using var checkJson = JsonDocument.Parse(check.Stdout);
        Assert.Equal("healthy", checkJson.RootElement.GetProperty("status").GetString());
        var note = Assert.Single(checkJson.RootElement.GetProperty("notes").EnumerateArray().Select(n => n.GetString()!), n => n.Contains("'docs'", StringComparison.Ordinal));
        Assert.Contains($"tokenizer '{(create.Contains("porter TOKENIZER", StringComparison.Ordinal) ? "porter " : "")}{application}", note, StringComparison.Ordinal);
        Assert.Contains("not verified", note, StringComparison.Ordinal);
        Assert.True(quick.ExitCode == 0, quick.Stdout + quick.Stderr);
        Assert.Contains("full-text table(s) 'docs'", quick.Stdout, StringComparison.Ordinal);
        Assert.True(backup.ExitCode == 0, backup.Stdout + backup.Stderr);
        using var backupJson = JsonDocument.Parse(backup.Stdout);
        var copy = backupJson.RootElement.GetProperty("backup");
        Assert.Equal("ok", copy.GetProperty("integrityCheck").GetString());
        Assert.Equal(50, copy.GetProperty("tableRows").GetProperty("plain").GetInt64());
        Assert.Contains(copy.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("'docs'", StringComparison.Ordinal));
        var verify = await WaldenCli.RunAsync("backups", _dir.File("backups"), "--verify", "--json");
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        Assert.Contains("\"verified\"", verify.Stdout, StringComparison.Ordinal);
        Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path).Where(f => !f.Key.StartsWith("backups", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Check_OfAFileWithAnApplicationTokenizer_StillFindsDamageElsewhere()
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(Script, path, "CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='TOKENIZER')", "unicode61",
            "INSERT INTO docs VALUES ('hello world')", "mytok", "damage");

        var check = await WaldenCli.RunAsync("check", path, "--full", "--json");

        Assert.True(check.ExitCode == 1, check.Stdout + check.Stderr);
        using var json = JsonDocument.Parse(check.Stdout);
        Assert.Contains(json.RootElement.GetProperty("findings").EnumerateArray(), f => f.GetString()!.Contains("missing from index plain_v", StringComparison.Ordinal));
        Assert.Contains(json.RootElement.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("'docs'", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("CREATE VIRTUAL TABLE docs USING fts4(body, tokenize=TOKENIZER)", "simple")]
    [InlineData("CREATE VIRTUAL TABLE docs USING fts5(body, tokenize='TOKENIZER')", "unicode61")]
    public async Task Recover_OfAFileWithAnApplicationTokenizer_GivesBackAUsableFile_AndSaysTheIndexWasNotVerified(string create, string builtIn)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(Script, path, create, builtIn, "INSERT INTO docs VALUES ('hello world')", "mytok", "none");
        var before = ForeignProgram.Snapshot(_dir.Path);

        var recover = await WaldenCli.RunAsync("recover", path, "--output", _dir.File("recovered.db"), "--json");

        Assert.True(recover.ExitCode == 0, recover.Stdout + recover.Stderr);
        using var json = JsonDocument.Parse(recover.Stdout);
        var report = json.RootElement.GetProperty("report");
        Assert.True(report.GetProperty("usable").GetBoolean(), report.GetProperty("integrityCheck").GetString());
        Assert.Equal(50, report.GetProperty("tables").GetProperty("plain").GetInt64());
        Assert.Contains(report.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("full-text table(s) 'docs'", StringComparison.Ordinal));
        Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path).Where(f => !f.Key.StartsWith("recovered", StringComparison.Ordinal)));
    }
}
