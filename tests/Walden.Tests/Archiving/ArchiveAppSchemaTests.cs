using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// An archived database whose schema names the application's own collations or SQL functions (registered with
/// <see cref="WaldenOptions.ConfigureConnection"/>, as an Android or Python app registers them on its connections) restores,
/// verifies and passes its drill: the restore's integrity_check uses the application's definitions when given
/// (<see cref="WaldenArchiveRestoreOptions.ConfigureConnection"/>, the drill: the database's own), and stand-ins otherwise,
/// naming what they could not verify. Before, every restore, verification and drill of such a database failed with
/// "no such collation sequence" (or function), and health stayed Degraded.
/// </summary>
public sealed class ArchiveAppSchemaTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public ArchiveAppSchemaTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    /// <summary>
    /// The application's definitions: a case-insensitive LOCALIZED (Android's name) and two SQL functions, as the Python and
    /// Android apps of these tests and of <see cref="ArchiveRealWorldBreakerTests"/> register them.
    /// </summary>
    internal static void Register(SqliteConnection connection)
    {
        connection.CreateCollation("LOCALIZED", (a, b) => string.Compare(a, b, StringComparison.OrdinalIgnoreCase));
        connection.CreateFunction("valid_email", (string? s) => s is not null && s.Contains('@', StringComparison.Ordinal), isDeterministic: true);
        connection.CreateFunction("norm", (string? s) => s?.ToUpperInvariant(), isDeterministic: true);
    }

    /// <summary>Each schema, and whether integrity_check needs the application's definitions (a view or trigger is not run by it).</summary>
    public static TheoryData<string, string, bool> Schemas => new()
    {
        { "a UNIQUE column and an index in the app's collation", "CREATE TABLE t(a TEXT COLLATE LOCALIZED UNIQUE, b TEXT); CREATE INDEX tb ON t(b COLLATE LOCALIZED)", true },
        { "a CHECK that calls an app function", "CREATE TABLE t(a TEXT, b TEXT CHECK (valid_email(b)))", true },
        { "a CHECK that refuses NULL from an app function", "CREATE TABLE t(a TEXT, b TEXT CHECK (valid_email(b) IS NOT NULL))", true },
        { "a CHECK in the app's collation", "CREATE TABLE t(a TEXT CHECK (a > 'X' COLLATE LOCALIZED), b TEXT)", true },
        { "an index on an app function's value", "CREATE TABLE t(a TEXT, b TEXT); CREATE INDEX tn ON t(norm(b))", true },
        { "a view and a trigger that call app functions", "CREATE TABLE t(a TEXT, b TEXT); CREATE TABLE log(x); " +
            "CREATE VIEW v AS SELECT norm(a) FROM t; CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES (norm(new.a)); END", false },
    };

    private static long Count(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        Register(connection); // the app's own reader: a count may go through an index in its collation
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM t";
        return (long)command.ExecuteScalar()!;
    }

    [Theory]
    [MemberData(nameof(Schemas))]
    public async Task ADatabaseWhoseSchemaNamesTheAppsCollationsOrFunctions_Restores_Verifies_AndPassesItsDrill(string kind, string schema, bool standIns)
    {
        _ = kind;
        var options = Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(Archive));
        options.ConfigureConnection = Register;
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options))
        {
            await db.WriteAsync(c => c.Exec(schema));
            for (var i = 0; i < 20; i++)
            {
                await db.WriteAsync(c => c.Exec($"INSERT INTO t(a, b) VALUES ('x{i}', 'Y{i}@example.com')"));
            }

            var drill = db.Archiver!.RunDrill(); // with the database's own definitions
            Assert.True(drill.Complete, drill.Problem);
            Assert.Null(drill.Note);
        }

        // From the archive alone (the CLI's case): stand-ins, and the note names what they could not verify.
        var alone = await WaldenArchive.RestoreAsync(Archive, _dir.File("alone.db"));
        Assert.True(alone.Complete, alone.Problem);
        Assert.Equal(20, Count(_dir.File("alone.db")));
        if (standIns)
        {
            Assert.Contains("stand-in", alone.Note, StringComparison.Ordinal);
        }
        else
        {
            Assert.Null(alone.Note);
        }

        // With the application's definitions: checked whole, nothing to note.
        var whole = await WaldenArchive.RestoreAsync(Archive, _dir.File("whole.db"), new WaldenArchiveRestoreOptions { ConfigureConnection = Register });
        Assert.True(whole.Complete, whole.Problem);
        Assert.Null(whole.Note);

        var verified = await WaldenArchive.VerifyAsync(Archive);
        Assert.True(verified.Complete, verified.Problem);
    }
}
