using System.Diagnostics;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>
/// A schema given as SQL is accepted as the sqlite3 shell prints it: <c>.schema</c>, <c>.schema --indent</c>,
/// <c>.fullschema</c> and <c>.dump</c> of a database with AUTOINCREMENT, statistics, a full-text table and a trigger carry
/// statements SQLite makes itself (sqlite_sequence, sqlite_stat1/4, shadow tables) and, for .dump and .fullschema, data lines.
/// Those are skipped and said in a note; the tables are rebuilt and their rows given back. A statement that is not schema and
/// not data is refused with its line.
/// </summary>
public sealed class SchemaScriptTests
{
    private const string Program = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1])
        c.executescript('''
        CREATE TABLE IF NOT EXISTS "users" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "email" varchar NOT NULL, "age" int, "joined" real);
        CREATE INDEX users_email ON users(email);
        CREATE VIRTUAL TABLE notes USING fts5(body);
        CREATE TRIGGER users_audit AFTER DELETE ON users BEGIN INSERT INTO notes VALUES ('deleted ' || old.email); END;
        ''')
        c.executemany("INSERT INTO users(email, age, joined) VALUES (?, ?, ?)", [("u%d@example.com" % i, i % 90, i / 7.0) for i in range(300)])
        c.execute("INSERT INTO notes VALUES ('hello world')")
        c.commit()
        c.execute("ANALYZE")
        c.commit(); c.close()
        """;

    [Theory]
    [InlineData(".schema")]
    [InlineData(".schema --indent")]
    [InlineData(".fullschema")]
    [InlineData(".dump")]
    public async Task Recovery_WithTheShellsSchemaOutput_SkipsWhatSQLiteMakesItselfAndGivesTheRowsBack(string shellCommand)
    {
        using var temp = new TempDirectory();
        var healthy = temp.File("healthy.db");
        await ForeignProgram.PythonAsync(Program, healthy);
        var schema = temp.File("schema.sql");
        await File.WriteAllTextAsync(schema, await ShellAsync(healthy, shellCommand));
        var damaged = LoseSchemaPage(healthy, temp.File("app.db"));

        var report = await WaldenRecovery.RecoverToAsync(damaged, temp.File("recovered.db"), new WaldenRecoveryOptions { SchemaFrom = schema });

        Assert.True(report.Usable, string.Join(Environment.NewLine, report.Notes));
        Assert.Equal(300, report.Tables["users"]);
        Assert.Contains("users", report.TablesRebuiltFromKnownSchema);
        Assert.Contains("notes", report.TablesRebuiltFromKnownSchema);
        if (shellCommand != ".fullschema") // .fullschema leaves sqlite_sequence out; the others print it
        {
            Assert.Contains(report.Notes, n => n.Contains("SQLite makes itself", StringComparison.Ordinal) && n.Contains("sqlite_sequence", StringComparison.Ordinal));
        }

        if (shellCommand is ".fullschema" or ".dump")
        {
            Assert.Contains(report.Notes, n => n.Contains("not schema, ignored", StringComparison.Ordinal) && n.Contains("data statements", StringComparison.Ordinal));
        }

        using var recovered = Sql.OpenDirect(temp.File("recovered.db"), readOnly: true);
        Assert.Equal(1, recovered.Scalar<long>("SELECT count(*) FROM sqlite_schema WHERE name = 'users_audit' AND type = 'trigger'"));
        Assert.Equal(1, recovered.Scalar<long>("SELECT count(*) FROM sqlite_schema WHERE name = 'users_email' AND type = 'index'"));
    }

    [Fact]
    public async Task Recovery_WithAHandMadeSchemaInATransactionWithCommentsAndPragmas_RebuildsItsTables()
    {
        using var temp = new TempDirectory();
        var healthy = temp.File("healthy.db");
        await ForeignProgram.PythonAsync(Program.Replace("CREATE VIRTUAL TABLE notes USING fts5(body);", "", StringComparison.Ordinal)
            .Replace("CREATE TRIGGER users_audit AFTER DELETE ON users BEGIN INSERT INTO notes VALUES ('deleted ' || old.email); END;", "", StringComparison.Ordinal)
            .Replace("c.execute(\"INSERT INTO notes VALUES ('hello world')\")", "", StringComparison.Ordinal), healthy);
        var schema = temp.File("schema.sql");
        await File.WriteAllTextAsync(schema, """
            -- schema of the app, version 3
            PRAGMA foreign_keys = ON;
            PRAGMA journal_mode = WAL;
            BEGIN;
            /* the accounts */
            CREATE TABLE IF NOT EXISTS users (id integer PRIMARY KEY AUTOINCREMENT NOT NULL, email varchar NOT NULL, age int, joined real);
            CREATE TABLE IF NOT EXISTS sqlite_sequence(name, seq);
            CREATE INDEX IF NOT EXISTS users_email ON users(email); -- lookups by email
            COMMIT;
            /* end */
            """);
        var damaged = LoseSchemaPage(healthy, temp.File("app.db"));

        var report = await WaldenRecovery.RecoverToAsync(damaged, temp.File("recovered.db"), new WaldenRecoveryOptions { SchemaFrom = schema });

        Assert.Equal(300, report.Tables["users"]);
        Assert.Contains(report.Notes, n => n.Contains("2 PRAGMA statements", StringComparison.Ordinal));
        Assert.Contains(report.Notes, n => n.Contains("SQLite makes itself (sqlite_sequence)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Recovery_WithAStatementThatIsNotSchemaNorData_IsRefusedNamingTheStatementAndItsLine()
    {
        using var temp = new TempDirectory();
        var healthy = temp.File("healthy.db");
        await ForeignProgram.PythonAsync(Program, healthy);
        var schema = temp.File("schema.sql");
        await File.WriteAllTextAsync(schema, "CREATE TABLE users (id integer PRIMARY KEY, email varchar, age int, joined real);\n\nATTACH DATABASE 'other.db' AS other;\n");
        var damaged = LoseSchemaPage(healthy, temp.File("app.db"));

        var ex = await Assert.ThrowsAsync<WaldenConfigurationException>(() =>
            WaldenRecovery.RecoverToAsync(damaged, temp.File("recovered.db"), new WaldenRecoveryOptions { SchemaFrom = schema }));

        Assert.Contains("line 3", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ATTACH DATABASE 'other.db' AS other", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(temp.File("recovered.db")));
    }

    private static string LoseSchemaPage(string healthy, string damaged)
    {
        var bytes = File.ReadAllBytes(healthy); // the test's own file, closed: no SQLite connection has it open
        Array.Clear(bytes, 100, 4096 - 100);
        File.WriteAllBytes(damaged, bytes);
        return damaged;
    }

    private static async Task<string> ShellAsync(string database, string command)
    {
        var info = new ProcessStartInfo(SqliteShell.BinaryPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(database);
        info.ArgumentList.Add(command);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("sqlite3 did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await errors);
        return await output;
    }
}
