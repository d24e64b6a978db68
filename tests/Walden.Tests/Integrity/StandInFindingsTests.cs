using Walden.Backup;
using Walden.Integrity;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Integrity;

/// <summary>
/// Findings that stand-in collations and functions cause (an index whose order or expression cannot be compared
/// without the application's definition) are set aside, and never crowd real findings out of the check's limit:
/// a real fault after thousands of set-aside findings is still reported, by check and by a backup's verification.
/// </summary>
public sealed class StandInFindingsTests : IDisposable
{
    /// <summary>
    /// A table whose index needs the app's definition (2,000 rows: a set-aside finding for almost every row, checked in
    /// rowid order) with a real fault at row 1,500: a NULL in a column the schema declares NOT NULL. A second table
    /// has one more.
    /// </summary>
    public static TheoryData<string, string> Inputs => new()
    {
        {
            "collation",
            """
            con.create_collation("LOCALIZED", lambda a, b: (a.lower() > b.lower()) - (a.lower() < b.lower()))
            con.execute("CREATE TABLE names(id INTEGER PRIMARY KEY, name TEXT COLLATE LOCALIZED, extra TEXT, UNIQUE(name))")
            con.executemany("INSERT INTO names(name, extra) VALUES (?, ?)",
                [("Name%d" % (2000 - i) if i % 2 else "name%d" % i, None if i == 1500 else "x") for i in range(2000)])
            """
        },
        {
            "function",
            """
            con.create_function("domain_of", 1, lambda s: s.split("@")[-1] if s else None, deterministic=True)
            con.execute("CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, extra TEXT)")
            con.execute("CREATE INDEX users_domain ON users(domain_of(email))")
            con.executemany("INSERT INTO users(email, extra) VALUES (?, ?)",
                [("u%d@d%d.example" % (i, i % 7), None if i == 1500 else "x") for i in range(2000)])
            """
        },
        {
            // Python's and Android's apps declare such a CHECK; the stand-in's NULL fails it on every row. Before, `walden
            // check` reported the file as corrupt ("CHECK constraint failed in users", one per row).
            "function in a CHECK that refuses NULL",
            """
            con.execute("PRAGMA journal_mode=WAL")  # as Android leaves it: then the CHECK is evaluated with the stand-in
            con.create_collation("LOCALIZED", lambda a, b: (a.lower() > b.lower()) - (a.lower() < b.lower()))
            con.create_function("valid_email", 1, lambda s: 1 if s and "@" in s else 0, deterministic=True)
            con.execute("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT COLLATE LOCALIZED, "
                        "email TEXT CHECK (valid_email(email) IS NOT NULL), extra TEXT)")
            con.execute("CREATE INDEX users_name ON users(name COLLATE LOCALIZED)")
            con.executemany("INSERT INTO users(name, email, extra) VALUES (?, ?, ?)",
                [("Name%d" % i, "u%d@d%d.example" % (i, i % 7), None if i == 1500 else "x") for i in range(2000)])
            """
        },
        {
            // The table's own findings (its key's order, its generated column's NULLs) are set aside; a NULL in a stored
            // column of the same table is not.
            "table keyed in the collation, with a generated column",
            """
            con.execute("PRAGMA journal_mode=WAL")
            con.create_collation("LOCALIZED", lambda a, b: (a.lower() > b.lower()) - (a.lower() < b.lower()))
            con.create_function("domain_of", 1, lambda s: s.split("@")[-1] if s else None, deterministic=True)
            con.execute("CREATE TABLE people(name TEXT COLLATE LOCALIZED PRIMARY KEY, email TEXT, "
                        "domain TEXT GENERATED ALWAYS AS (domain_of(email)) VIRTUAL NOT NULL, extra TEXT) WITHOUT ROWID")
            con.executemany("INSERT INTO people(name, email, extra) VALUES (?, ?, ?)",
                [("Name%d" % (2000 - i) if i % 2 else "name%d" % i, "u%d@d%d.example" % (i, i % 7), None if i == 1500 else "x") for i in range(2000)])
            """
        },
    };

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task ARealFinding_AfterThousandsOfSetAsideStandInFindings_IsReported_ByCheckAndByTheBackupsVerification(
        string kind, string appSchema)
    {
        var path = _dir.File($"{kind.Replace(' ', '-')}.db");
        await ForeignProgram.PythonAsync(
            "import sqlite3, sys\ncon = sqlite3.connect(sys.argv[1])\n" + appSchema + "\n" +
            """
            con.execute("CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT)")
            con.executemany("INSERT INTO plain(v) VALUES (?)", [(None if i == 50 else "v%d" % i,) for i in range(100)])
            con.commit()
            con.execute("PRAGMA writable_schema=ON")
            con.execute("UPDATE sqlite_master SET sql = 'CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT NOT NULL)' WHERE name = 'plain'")
            con.execute("UPDATE sqlite_master SET sql = replace(sql, 'extra TEXT', 'extra TEXT NOT NULL') WHERE type = 'table'")
            con.commit()
            con.close()
            """,
            path);

        var check = WaldenIntegrity.CheckFile(path, WaldenIntegrityCheck.Full);
        var backup = await Assert.ThrowsAsync<WaldenCorruptException>(() => WaldenBackups.BackupAsync(path, _dir.File("backups")));

        Assert.Equal(WaldenFileStatus.Corrupt, check.Status);
        Assert.Contains("NULL value in plain.v", check.Findings);
        Assert.Contains(check.Findings, finding =>
            finding.StartsWith("NULL value in", StringComparison.Ordinal) && finding.EndsWith(".extra", StringComparison.Ordinal));
        Assert.Contains(check.Notes, note => note.Contains("set aside", StringComparison.Ordinal));
        Assert.Contains("NULL value in plain.v", backup.Message, StringComparison.Ordinal);
    }
}
