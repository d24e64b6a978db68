using System.Globalization;
using Walden.Backup;
using Walden.Native;

namespace Walden.Recovery;

/// <summary>Where the recovery at open takes the application's schema from, and what name to report it by.</summary>
/// <param name="Path">The file to read the schema from (a verified backup, or its decompressed copy).</param>
/// <param name="Name">What to call it in messages.</param>
/// <param name="Temporary">True when <paramref name="Path"/> is a copy of Walden's own, deleted afterwards.</param>
internal sealed record SchemaSource(string Path, string Name, bool Temporary);

/// <summary>
/// The policy of <see cref="WaldenCorruptionPolicy.Recover"/> at open: take the schema from
/// <see cref="WaldenOptions.RecoverySchemaFrom"/> or else from the newest verified backup of this database in
/// <see cref="WaldenBackupOptions.Directory"/>, and never swap in a result that lost tables or most rows: an
/// application would take it for its database and start over from empty tables.
/// </summary>
internal static class RecoveryAtOpen
{
    /// <summary>
    /// The schema source: the option when set; else the newest backup of <paramref name="databasePath"/> (same source path in
    /// its manifest) in the backup folder that passes a full re-verification (checksums, integrity_check, counts, with the
    /// application's <see cref="WaldenOptions.ConfigureConnection"/>, as the backup was verified when it was taken); else null.
    /// </summary>
    internal static SchemaSource? FindSchemaSource(string databasePath, WaldenOptions options)
    {
        if (options.RecoverySchemaFrom is { } explicitSource)
        {
            return new SchemaSource(explicitSource, $"'{explicitSource}' (RecoverySchemaFrom)", Temporary: false);
        }

        if (options.Backup?.Directory is not { } directory || !Directory.Exists(directory))
        {
            return null;
        }

        foreach (var entry in WaldenBackups.List(directory))
        {
            if (entry.State != WaldenBackupState.Verified || entry.Backup!.Source != databasePath)
            {
                continue;
            }

            var compressed = entry.Backup.Compression != WaldenBackupCompression.None;
            var extracted = compressed ? System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"walden-schema-{Guid.NewGuid():N}.db") : null;
            var verified = BackupVerifier.Verify(entry.Path, extracted, options.ConfigureConnection, CancellationToken.None);
            if (verified.State == WaldenBackupState.Verified)
            {
                return new SchemaSource(extracted ?? entry.Path, $"the verified backup '{entry.Path}'", Temporary: compressed);
            }

            if (extracted is not null)
            {
                File.Delete(extracted);
            }
        }

        return null;
    }

    /// <summary>Why a usable recovery must still not be opened as the database, or null when it may.</summary>
    internal static string? Judge(WaldenRecoveryReport report, KnownSchema? schema, SchemaSource? source)
    {
        var problems = new List<string>();
        var recovered = new HashSet<string>(report.Tables.Keys, StringComparer.OrdinalIgnoreCase);
        if (schema is not null)
        {
            var virtualTables = schema.Objects.Where(o => o.IsVirtualTable).Select(o => o.Name + "_").ToList();
            var missing = schema.Objects
                .Where(o => o.Type == "table" && !o.IsVirtualTable && !recovered.Contains(o.Name))
                .Where(o => !virtualTables.Any(prefix => o.Name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))) // FTS shadow tables
                .Select(o => o.Name)
                .ToList();
            if (missing.Count > 0)
            {
                problems.Add($"the tables {string.Join(", ", missing)} of the schema from {source?.Name ?? schema.Source} are missing from the result");
            }
        }
        else if (report.Tables.Count == 0 && report.LostAndFoundRows > 0)
        {
            problems.Add("no table of the application came back (the file's own schema is lost) and there was no schema source: " +
                "WaldenOptions.RecoverySchemaFrom is not set and Backup.Directory holds no verified backup of this database");
        }

        if (report.LostAndFoundRows > report.RowsRecovered)
        {
            problems.Add($"{report.LostAndFoundRows:N0} of the {report.LostAndFoundRows + report.RowsRecovered:N0} rows recovered could not be given back " +
                "to a table and are only in lost_and_found");
        }

        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    /// <summary>Keeps a recovered file that is not swapped in, under a name beside the database that says what it is.</summary>
    internal static string Keep(string databasePath, string recoveredPath, TimeProvider timeProvider)
    {
        var stamp = timeProvider.GetUtcNow().ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var kept = $"{databasePath}.recovered-{stamp}.db";
        for (var n = 2; File.Exists(kept); n++)
        {
            kept = $"{databasePath}.recovered-{stamp}-{n}.db";
        }

        File.Move(recoveredPath, kept);
        Posix.FsyncDirectory(System.IO.Path.GetDirectoryName(kept)!);
        return kept;
    }
}
