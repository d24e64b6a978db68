using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Integrity;

/// <summary>
/// Every spelling SQLite accepts for a virtual table's module and its full-text options is read as SQLite reads it: the
/// module name bare, "double-quoted", 'single-quoted', [bracketed] or `backticked`, in any case, with whitespace and comments
/// around it; FTS3/FTS4's <c>tokenize=name</c> and <c>tokenize name</c>; FTS5's <c>tokenize='name args'</c> and its shortened
/// option names. Before, a quoted or upper-case module name hid a full-text table from Walden: a corrupt FTS5 index beside a
/// table with the application's tokenizer was called healthy without a word, a table with the application's tokenizer was
/// not named as unverified (FTS5) or failed the whole check (FTS4), and recover did not count it from its content.
/// </summary>
public sealed class VirtualTableSpellingTests : IDisposable
{
    /// <summary>
    /// 'plain' and 'c' (the full-text table, argv 2), each with rows; 'j' (argv 3, built with a built-in tokenizer, argv 4 written
    /// into its schema as a program that registers its own tokenizer leaves it); argv 5 "corrupt" changes c's content behind
    /// its index.
    /// </summary>
    private const string Script = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(20):
            con.execute("INSERT INTO plain(v) VALUES (?)", ("row%d" % i,))
        con.execute(sys.argv[2])
        con.execute("INSERT INTO c(d) VALUES ('abc'), ('def')")
        con.execute(sys.argv[3])
        con.execute("INSERT INTO j(k) VALUES ('hello world'), ('full text'), ('third row')")
        con.execute("PRAGMA writable_schema=ON")
        con.execute("UPDATE sqlite_schema SET sql = ? WHERE name = 'j'", (sys.argv[4],))
        if sys.argv[5] == "corrupt":
            con.execute("UPDATE c_content SET c0 = 'zzz' WHERE id = 1")
        con.close()
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Spellings of the module name fts5 that SQLite accepts (parse.y: <c>USING nm</c>, looked up without regard to case).</summary>
    public static TheoryData<string> Fts5Spellings => new()
    {
        "fts5", "\"fts5\"", "'fts5'", "[fts5]", "`fts5`", "FTS5", "\"Fts5\"", "fts5 ", " /* a comment */ fts5\n ",
    };

    [Theory]
    [MemberData(nameof(Fts5Spellings))]
    public async Task Check_OfACorruptFullTextIndex_BesideAnApplicationTokenizer_NeverCallsItHealthyWithoutNamingIt(string module)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(Script, path, $"CREATE VIRTUAL TABLE c USING {module}(d)",
            "CREATE VIRTUAL TABLE j USING fts5(k)", "CREATE VIRTUAL TABLE j USING fts5(k, tokenize='apptok')", "corrupt");

        var check = await WaldenCli.RunAsync("check", path, "--full", "--json");

        using var json = JsonDocument.Parse(check.Stdout);
        var notes = json.RootElement.GetProperty("notes").EnumerateArray().Select(n => n.GetString()!).ToList();
        Assert.Contains(notes, n => n.Contains("'j' (fts5, tokenizer 'apptok')", StringComparison.Ordinal));
        if (check.ExitCode == 0)
        {
            // SQLite's check cannot leave out one table of a module: c's index went unverified with j's, and the note says so.
            Assert.Contains(notes, n => n.Contains("full-text index of 'c'", StringComparison.Ordinal) && n.Contains("not verified", StringComparison.Ordinal));
        }
        else
        {
            Assert.True(check.ExitCode == 1, check.Stdout + check.Stderr);
        }
    }

    /// <summary>The table j as created (a built-in tokenizer) and as the application's schema spells it (its tokenizer 'apptok').</summary>
    public static TheoryData<string, string> ApplicationTokenizerSpellings => new()
    {
        { "CREATE VIRTUAL TABLE j USING fts5(k)", "CREATE VIRTUAL TABLE j USING \"fts5\"(k, tokenize='apptok')" },
        { "CREATE VIRTUAL TABLE j USING fts5(k)", "CREATE VIRTUAL TABLE j using [FTS5] ( k , tokenize = \"apptok\" )" },
        { "CREATE VIRTUAL TABLE j USING fts5(k)", "CREATE VIRTUAL TABLE j USING `fts5`(k, TOKENIZE='apptok unicode61')" },
        { "CREATE VIRTUAL TABLE j USING fts5(k)", "CREATE VIRTUAL TABLE j USING 'fts5'(k, tok='apptok')" },
        { "CREATE VIRTUAL TABLE j USING fts4(k)", "CREATE VIRTUAL TABLE j USING [fts4](k, tokenize=apptok)" },
        { "CREATE VIRTUAL TABLE j USING fts4(k)", "CREATE VIRTUAL TABLE j USING \"FTS4\"(k, tokenize apptok)" },
        { "CREATE VIRTUAL TABLE j USING fts4(k)", "CREATE VIRTUAL TABLE j USING 'fts4' /* app */ (k, tokenize=\"apptok\")" },
        { "CREATE VIRTUAL TABLE j USING fts3(k)", "CREATE VIRTUAL TABLE j USING `FTS3`(k, tokenize=[apptok])" },
    };

    [Theory]
    [MemberData(nameof(ApplicationTokenizerSpellings))]
    public async Task CheckAndRecover_OfAnApplicationTokenizer_InAnySpelling_NameTheTableAsUnverified_AndCountItsRows(string create, string schema)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(Script, path, "CREATE VIRTUAL TABLE c USING fts5(d)", create, schema, "none");

        var check = await WaldenCli.RunAsync("check", path, "--full", "--json");
        var recover = await WaldenCli.RunAsync("recover", path, "--output", _dir.File("recovered.db"), "--json");

        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        using var checkJson = JsonDocument.Parse(check.Stdout);
        Assert.Equal("healthy", checkJson.RootElement.GetProperty("status").GetString());
        var note = Assert.Single(checkJson.RootElement.GetProperty("notes").EnumerateArray().Select(n => n.GetString()!),
            n => n.Contains("'j' (", StringComparison.Ordinal));
        Assert.Contains("tokenizer 'apptok", note, StringComparison.Ordinal);
        Assert.Contains("not verified", note, StringComparison.Ordinal);

        Assert.True(recover.ExitCode == 0, recover.Stdout + recover.Stderr);
        using var recoverJson = JsonDocument.Parse(recover.Stdout);
        var report = recoverJson.RootElement.GetProperty("report");
        Assert.True(report.GetProperty("usable").GetBoolean(), report.GetProperty("integrityCheck").GetString());
        Assert.Equal(20, report.GetProperty("tables").GetProperty("plain").GetInt64());
        Assert.Equal(3, report.GetProperty("tables").GetProperty("j").GetInt64()); // read (FTS5) or counted from j_content (FTS3/4)
        Assert.Contains(report.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("'j' (", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("\"app_vectors\"")]
    [InlineData("[app_vectors]")]
    [InlineData("'APP_VECTORS'")]
    [InlineData("`app_vectors` ")]
    public async Task Check_OfATableOfAModuleWaldenDoesNotHave_InAnySpelling_NamesTheModuleAsNotVerified(string module)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(Script, path, "CREATE VIRTUAL TABLE c USING fts5(d)", "CREATE VIRTUAL TABLE j USING fts4(k)",
            $"CREATE VIRTUAL TABLE j USING {module}(k)", "none");

        var check = await WaldenCli.RunAsync("check", path, "--full", "--json");

        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        using var json = JsonDocument.Parse(check.Stdout);
        Assert.Contains(json.RootElement.GetProperty("notes").EnumerateArray(), n =>
            n.GetString()!.Contains("'j' (module '", StringComparison.Ordinal) &&
            n.GetString()!.Contains("app_vectors'", StringComparison.OrdinalIgnoreCase) && n.GetString()!.Contains("not verified", StringComparison.Ordinal));
    }
}
