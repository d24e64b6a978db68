using Microsoft.Data.Sqlite;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>
/// Databases whose schema needs the application's own collations and functions (Android's LOCALIZED,
/// a CHECK calling valid_email(), a NOCASE-like collation on an index, a trigger, a view and a stored
/// generated column calling an app function), written by Python's sqlite3 as the application would.
/// </summary>
public sealed class AppCollationRecoveryTests
{
    private const string AppProgram = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        fold = lambda a, b: (a.lower() > b.lower()) - (a.lower() < b.lower())
        con.create_collation("LOCALIZED", fold)
        con.create_collation("MYNOCASE", fold)
        con.create_function("valid_email", 1, lambda e: 1 if e and "@" in e else 0, deterministic=True)
        con.create_function("app_slug", 1, lambda s: s.lower().replace(" ", "-") if s else None, deterministic=True)
        con.executescript('''
        CREATE TABLE android_metadata(locale TEXT);
        INSERT INTO android_metadata VALUES('en_US');
        CREATE TABLE words(_id INTEGER PRIMARY KEY, name TEXT COLLATE LOCALIZED, UNIQUE(name));
        CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT CHECK(valid_email(email)), nick TEXT,
                           slug TEXT GENERATED ALWAYS AS (app_slug(nick)) STORED);
        CREATE INDEX users_nick ON users(nick COLLATE MYNOCASE);
        CREATE TABLE audit(id INTEGER PRIMARY KEY, what TEXT);
        CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN INSERT INTO audit(what) VALUES (app_slug(new.email)); END;
        CREATE VIEW user_slugs AS SELECT app_slug(email) AS s FROM users;
        CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT);
        ''')
        con.executemany("INSERT INTO words(name) VALUES (?)", [("Word %d" % i,) for i in range(2000)])
        con.executemany("INSERT INTO users(email, nick) VALUES (?, ?)", [("u%d@example.org" % i, "Nick %d" % i) for i in range(300)])
        con.executemany("INSERT INTO plain(v) VALUES (?)", [("v%d" % i,) for i in range(500)])
        con.commit()
        con.close()
        """;

    [Fact]
    public async Task RecoverTo_SchemaNeedingAppCollationsAndFunctions_RecoversEveryTableAndNamesEachStandIn()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(AppProgram, path);

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"));

        Assert.True(report.Usable, string.Join("\n", report.Notes));
        Assert.Empty(report.MissingObjects);
        Assert.Equal(2000, report.Tables["words"]);
        Assert.Equal(300, report.Tables["users"]);
        Assert.Equal(300, report.Tables["audit"]);
        Assert.Equal(500, report.Tables["plain"]);
        Assert.Equal(1, report.Tables["android_metadata"]);
        foreach (var name in new[] { "LOCALIZED", "MYNOCASE", "valid_email", "app_slug" })
        {
            Assert.Contains(report.StandIns, line => line.Contains(name, StringComparison.Ordinal));
        }

        Assert.Contains(report.StandIns, line => line.Contains("REINDEX LOCALIZED", StringComparison.Ordinal) && line.Contains("table words", StringComparison.Ordinal));
        Assert.Contains(report.StandIns, line => line.Contains("valid_email", StringComparison.Ordinal) && line.Contains("table users", StringComparison.Ordinal));

        // The application opens the recovered file with its own collations and functions, reindexes as told, and finds everything.
        using var app = OpenAsApplication(temp.File("recovered.db"));
        app.Exec("REINDEX LOCALIZED; REINDEX MYNOCASE;");
        Assert.Equal("ok", app.Scalar<string>("PRAGMA integrity_check"));
        Assert.Equal(2000, app.Scalar<long>("SELECT count(DISTINCT name) FROM words WHERE name LIKE 'Word %'"));
        Assert.Equal(1, app.Scalar<long>("SELECT count(*) FROM words WHERE name = 'WORD 1999'")); // the UNIQUE index answers in LOCALIZED order
        Assert.Equal(300, app.Scalar<long>("SELECT count(*) FROM users WHERE valid_email(email)"));
        Assert.Equal(300, app.Scalar<long>("SELECT count(*) FROM user_slugs"));
    }

    [Fact]
    public async Task RecoverInPlace_SchemaNeedingAppCollationsAndFunctions_WithTheApplicationsDefinitions_KeepsEveryRowAndEveryIndexRight()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(AppProgram, path);

        // Without the application's definitions the indexes in LOCALIZED and MYNOCASE and the STORED slug would be wrong: refused.
        var refusal = await Assert.ThrowsAsync<WaldenException>(() => WaldenRecovery.RecoverInPlaceAsync(path));
        Assert.Contains("sqlite_autoindex_words_1", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("generated column users.slug", refusal.Message, StringComparison.Ordinal);

        var report = await WaldenRecovery.RecoverInPlaceAsync(path, new WaldenRecoveryOptions { ConfigureConnection = Register });

        Assert.True(report.Usable, string.Join("\n", report.Notes));
        Assert.Empty(report.ObjectsToRebuild);
        using var app = OpenAsApplication(path);
        Assert.Equal("ok", app.Scalar<string>("PRAGMA integrity_check")); // no REINDEX by the application
        Assert.Equal(2000, app.Scalar<long>("SELECT count(*) FROM words"));
        Assert.Equal(1, app.Scalar<long>("SELECT count(*) FROM words WHERE name = 'WORD 1999'"));
        Assert.Equal(300, app.Scalar<long>("SELECT count(*) FROM users"));
        Assert.Equal(300, app.Scalar<long>("SELECT count(*) FROM users WHERE slug LIKE 'nick-%'"));
        Assert.Equal(500, app.Scalar<long>("SELECT count(*) FROM plain"));
    }

    [Fact]
    public async Task Recovery_WhenAnObjectOfTheOriginalIsMissing_NamesItWithItsRowsAndIsNotUsableAndInPlaceRefuses()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(AppProgram, path);
        var before = await File.ReadAllBytesAsync(path);
        // Without stand-ins (the seam) the recover extension cannot create the tables that need the app's names: what Walden used to write.
        var options = new WaldenRecoveryOptions { StandInsEnabled = false };

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"), options);

        Assert.False(report.Usable);
        Assert.Contains(report.MissingObjects, line => line.Contains("table words (2,000 rows in the original)", StringComparison.Ordinal));
        Assert.Contains(report.MissingObjects, line => line.Contains("table users (300 rows in the original)", StringComparison.Ordinal));
        Assert.Contains(report.MissingObjects, line => line.StartsWith("index users_nick", StringComparison.Ordinal));
        var error = await Assert.ThrowsAsync<WaldenException>(() => WaldenRecovery.RecoverInPlaceAsync(path, options));
        Assert.Contains("table words (2,000 rows in the original)", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
        Assert.False(Directory.Exists(temp.File("walden-quarantine")));
    }

    [Fact]
    public async Task RecoverCli_SchemaNeedingAppCollations_ExitsZeroAndPrintsWhatTheApplicationMustRecheck()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(AppProgram, path);

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("recover", path, "--output", temp.File("recovered.db"));

        Assert.True(exitCode == 0, stdout + stderr);
        var text = System.Text.RegularExpressions.Regex.Replace(stdout, @"\s+", " "); // the console may wrap long lines
        Assert.Contains("REINDEX LOCALIZED", text, StringComparison.Ordinal);
        Assert.Contains("valid_email", text, StringComparison.Ordinal);
    }

    private static SqliteConnection OpenAsApplication(string path)
    {
        var connection = Sql.OpenDirect(path);
        Register(connection);
        return connection;
    }

    private static void Register(SqliteConnection connection)
    {
        static int Fold(string? a, string? b) => string.Compare(a?.ToLowerInvariant(), b?.ToLowerInvariant(), StringComparison.Ordinal);
        connection.CreateCollation("LOCALIZED", Fold);
        connection.CreateCollation("MYNOCASE", Fold);
        connection.CreateFunction("valid_email", (string? e) => e is not null && e.Contains('@', StringComparison.Ordinal) ? 1 : 0, isDeterministic: true);
        connection.CreateFunction("app_slug", (string? s) => s?.ToLowerInvariant().Replace(' ', '-'), isDeterministic: true);
    }
}
