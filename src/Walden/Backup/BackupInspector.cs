using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Backup;

/// <summary>What a copy contains, as SQLite reports it.</summary>
internal sealed record CopyFacts(int PageSize, long PageCount, string IntegrityCheck, Dictionary<string, long> TableRows, IReadOnlyList<string> Notes)
{
    internal bool IsIntact => IntegrityCheck == "ok";
}

/// <summary>
/// Opens a copy (Walden's own file, never a live database) and checks it: <c>PRAGMA integrity_check</c>,
/// page size and count, and the row count of every table. With the application's collations and functions
/// (<c>configure</c>: the database's <see cref="WaldenOptions.ConfigureConnection"/>) the check is a full one; only
/// names they leave missing get stand-ins.
/// </summary>
internal static class BackupInspector
{
    /// <summary>
    /// Checks a fresh copy and turns it into one self-contained file: a copy of a WAL database carries
    /// the WAL flag in its header, so it is switched to rollback (delete) mode, leaving no -wal or -shm.
    /// </summary>
    internal static CopyFacts InspectNewCopy(string path, Action<SqliteConnection>? configure, CancellationToken cancellationToken)
    {
        using var connection = Open(path, SqliteOpenMode.ReadWrite, configure);
        var mode = ConnectionFactory.Scalar<string>(connection, "PRAGMA journal_mode");
        if (!string.Equals(mode, "delete", StringComparison.OrdinalIgnoreCase))
        {
            ConnectionFactory.Execute(connection, "PRAGMA journal_mode=DELETE");
        }

        return Facts(connection, cancellationToken);
    }

    /// <summary>
    /// Checks a stored copy without changing it: read-write but query_only, since SQLite leaves CHECK constraints out of a
    /// read-only database's schema (Integrity.SkippedChecks); a copy this user may not write is opened read-only by SQLite,
    /// and the notes say so.
    /// </summary>
    internal static CopyFacts InspectReadOnly(string path, Action<SqliteConnection>? configure, CancellationToken cancellationToken)
    {
        using var connection = Open(path, SqliteOpenMode.ReadWrite, configure);
        ConnectionFactory.Execute(connection, "PRAGMA query_only=ON");
        return Facts(connection, cancellationToken);
    }

    /// <summary>Sets the journal mode a restored file should have (e.g. back to WAL), then closes it cleanly.</summary>
    internal static void SetJournalMode(string path, string journalMode)
    {
        if (journalMode is not ("wal" or "delete" or "truncate" or "persist"))
        {
            return; // memory/off are connection habits, not something to persist into a file
        }

        using var connection = Open(path, SqliteOpenMode.ReadWrite, configure: null); // reads no table: needs none of the app's names
        ConnectionFactory.Execute(connection, $"PRAGMA journal_mode={journalMode}");
    }

    private static SqliteConnection Open(string path, SqliteOpenMode mode, Action<SqliteConnection>? configure)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ToString());
        try
        {
            connection.Open();
            configure?.Invoke(connection); // the application's collations and functions, as on the database's own connections
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static CopyFacts Facts(SqliteConnection connection, CancellationToken cancellationToken)
    {
        // Names the application did not register (none given: all of them) get stand-ins: the copy is read and counted whole,
        // and the notes say what was not verified.
        var standIns = new StandIns();
        var (problems, unverified) =
            Integrity.IntegrityChecker.RunSettingAsideStandIns(connection, standIns, WaldenIntegrityCheck.Full, limit: 20);
        cancellationToken.ThrowIfCancellationRequested();
        var integrity = problems.Count == 0 ? "ok" : string.Join("; ", problems);
        var pageSize = (int)ConnectionFactory.Scalar<long>(connection, "PRAGMA page_size");
        var pageCount = ConnectionFactory.Scalar<long>(connection, "PRAGMA page_count");
        var rows = new Dictionary<string, long>(StringComparer.Ordinal);
        if (integrity == "ok")
        {
            var tables = new List<string>();
            using (var list = connection.CreateCommand())
            {
                list.CommandText = "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql IS NOT NULL ORDER BY name";
                using var reader = list.ExecuteReader();
                while (reader.Read())
                {
                    if (!Integrity.VirtualTableSql.IsVirtualTable(reader.GetString(1)))
                    {
                        tables.Add(reader.GetString(0));
                    }
                }
            }

            foreach (var table in tables)
            {
                cancellationToken.ThrowIfCancellationRequested();
                rows[table] = standIns.Retry(connection, () =>
                    ConnectionFactory.Scalar<long>(connection, $"SELECT count(*) FROM \"{table.Replace("\"", "\"\"", StringComparison.Ordinal)}\""));
            }
        }

        var notes = standIns.Notes.Concat(unverified).ToList();
        return new CopyFacts(pageSize, pageCount, integrity, rows, notes);
    }
}
