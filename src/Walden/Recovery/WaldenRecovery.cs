using Walden.Files;
using Walden.Configuration;

namespace Walden.Recovery;

/// <summary>
/// Recovers a damaged SQLite database (any program's) with SQLite's recover extension, then does what
/// people used to do by hand: gives orphaned rows back to their tables when that is certain, recreates
/// tables from a known schema when the file's own schema page is gone, tries every legal page size when
/// the header's is unreadable, rebuilds full-text indexes, runs ANALYZE and checks the result.
/// Refuses to run while any process (this one included) has the database open.
/// </summary>
public static class WaldenRecovery
{
    /// <summary>
    /// Writes the recovered database to <paramref name="outputPath"/> (a new file) and leaves the damaged
    /// input untouched. The report says what came back; <see cref="WaldenRecoveryReport.Usable"/> is true
    /// when the output passes integrity_check, even if some data could not be recovered.
    /// </summary>
    /// <exception cref="WaldenDatabaseInUseException">Another process has the input open; the message names the lock found.</exception>
    /// <exception cref="WaldenConfigurationException">A path is wrong (missing input, existing output, missing folder).</exception>
    public static Task<WaldenRecoveryReport> RecoverToAsync(string damagedPath, string outputPath, WaldenRecoveryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(damagedPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        options = (options ?? new WaldenRecoveryOptions()).Clone();
        return Task.Run(() => RecoverTo(damagedPath, outputPath, options), cancellationToken);
    }

    /// <summary>
    /// Recovers the database in place: the recovered file replaces it in one atomic rename, and the
    /// damaged original with its -wal and -shm is kept in <c>walden-quarantine/</c> beside it, never deleted.
    /// Nothing is swapped when the recovered file does not pass integrity_check.
    /// </summary>
    /// <exception cref="WaldenDatabaseInUseException">Another process has the database open; the message names the lock found.</exception>
    public static Task<WaldenRecoveryReport> RecoverInPlaceAsync(string path, WaldenRecoveryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options = (options ?? new WaldenRecoveryOptions()).Clone();
        return Task.Run(() => RecoverInPlace(path, options), cancellationToken);
    }

    internal static WaldenRecoveryReport RecoverTo(string damagedPath, string outputPath, WaldenRecoveryOptions options)
    {
        var input = CheckInput(damagedPath);
        var output = Path.GetFullPath(outputPath);
        if (File.Exists(output) || Directory.Exists(output))
        {
            throw new WaldenConfigurationException($"The output '{output}' already exists. Recovery writes a new file; choose a path that does not exist yet.");
        }

        if (!Directory.Exists(Path.GetDirectoryName(output)))
        {
            throw new WaldenConfigurationException($"The folder of the output '{output}' does not exist. Create it first.");
        }

        LockProbe.EnsureNotInUse(input, "Recovery");
        var partial = output + ".walden-partial";
        try
        {
            var report = Produce(input, partial, options);
            File.Move(partial, output);
            return report with { OutputPath = output };
        }
        catch
        {
            DeleteOwnOutput(partial);
            throw;
        }
    }

    internal static WaldenRecoveryReport RecoverInPlace(string path, WaldenRecoveryOptions options)
    {
        var input = CheckInput(path);
        LockProbe.EnsureNotInUse(input, "In-place recovery");
        var recovered = Path.Combine(Path.GetDirectoryName(input)!, $".{Path.GetFileName(input)}.walden-recovered");
        WaldenRecoveryReport report;
        try
        {
            report = Produce(input, recovered, options);
        }
        catch
        {
            DeleteOwnOutput(recovered);
            throw;
        }

        if (!report.Usable)
        {
            DeleteOwnOutput(recovered); // our own output, not the original: the original was not touched
            throw new WaldenException(
                $"Recovery of '{input}' did not produce a database that passes integrity_check ({report.IntegrityCheck}); the original was left in place, untouched. " +
                "Try 'walden recover <db> --output <new.db>' to inspect what can be recovered.");
        }

        if (options.RefuseSwap?.Invoke(report) is { } reason)
        {
            var kept = RecoveryAtOpen.Keep(input, recovered, options.TimeProvider);
            throw new WaldenRecoveryIncompleteException(reason, input, kept, report with { OutputPath = kept });
        }

        var quarantine = Quarantine.Swap(input, recovered, $"Recovered in place by Walden: {report.RowsRecovered:N0} rows recovered, {report.LostAndFoundRows:N0} in lost_and_found.", options.TimeProvider);
        return report with { OutputPath = input, Quarantine = quarantine };
    }

    /// <summary>Removes a file this recovery wrote itself (never the input) and its journal.</summary>
    private static void DeleteOwnOutput(string path)
    {
        File.Delete(path);
        File.Delete(path + "-journal");
    }

    private static string CheckInput(string path)
    {
        var input = Path.GetFullPath(path);
        if (!File.Exists(input))
        {
            throw new WaldenConfigurationException($"The database '{input}' does not exist. Check the path.");
        }

        return input;
    }

    private static WaldenRecoveryReport Produce(string input, string output, WaldenRecoveryOptions options)
    {
        var clock = options.TimeProvider;
        var started = clock.GetTimestamp();
        var header = InputHeader.Read(input);
        var known = KnownSchema.Load(options);
        var notes = new List<string>();
        if (!header.MagicIntact)
        {
            notes.Add("The file header is damaged (the 'SQLite format 3' magic string is gone).");
        }

        // Freed pages hold deleted rows; only when the header is intact does the extension know which pages those are.
        var freelistKnown = header.FreelistIntact(input);
        if (header.MagicIntact && !freelistKnown)
        {
            notes.Add("The freelist is damaged or unknown: orphaned pages are attributed by root page only, never by shape, since they could be freed pages holding deleted rows.");
        }

        var pageSize = header.PageSize;
        var retried = false;
        AttemptResult best;
        if (header.MagicIntact && header.PageSize != 0)
        {
            best = Attempt(input, output, known, freelistKnown, notes);
            pageSize = best.PageSize;
        }
        else
        {
            retried = true;
            notes.Add(header.PageSize == 0
                ? $"The header's page size field ({header.PageSizeField}) is not a legal page size: the header was repaired on copies of the file, once with each legal page size."
                : "The header was repaired on copies of the file, once with each legal page size.");
            (best, pageSize) = TryEveryPageSize(input, output, header.PageSize, known, notes);
        }

        if (!options.KeepLostAndFound && best.LostAndFound > 0)
        {
            notes.Add($"{best.LostAndFound:N0} rows could not be attributed to a table; KeepLostAndFound is false, so they were left out of the output.");
            DropLostAndFound(best.OutputPath);
        }

        else if (best.LostAndFound > 0)
        {
            notes.Add($"{best.LostAndFound:N0} rows could not be given back to a table with confidence; they are in the lost_and_found table (rootpgno, pgno, nfield, id, c0, c1, ...).");
        }

        var inputPages = pageSize == 0 ? 0 : (header.FileLength + pageSize - 1) / pageSize;
        var unreadable = RecoveredDatabase.CountUnreadablePages(input, inputPages);
        return new WaldenRecoveryReport(
            input,
            output,
            best.IntegrityCheck == "ok",
            best.Tables,
            options.KeepLostAndFound ? best.LostAndFound : 0,
            best.Reattributed,
            best.Rebuilt,
            inputPages,
            unreadable,
            pageSize,
            retried,
            best.FullText,
            best.IntegrityCheck,
            clock.GetElapsedTime(started),
            null,
            notes);
    }

    private static AttemptResult Attempt(string input, string output, KnownSchema? known, bool freelistKnown, List<string> notes)
    {
        RecoverExtension.Run(input, output);
        return RecoveredDatabase.Finish(input, output, known, freelistKnown, notes);
    }

    private static (AttemptResult Best, int PageSize) TryEveryPageSize(string input, string output, int headerPageSize, KnownSchema? known, List<string> notes)
    {
        var work = Directory.CreateTempSubdirectory("walden-recover-");
        try
        {
            AttemptResult? best = null;
            var bestSize = 0;
            var bestNotes = new List<string>();
            // The header's own size first, so that it wins ties (the extension often detects the size itself).
            var sizes = Enumerable.Range(9, 8).Select(bits => 1 << bits).OrderBy(size => size == headerPageSize ? 0 : 1);
            foreach (var size in sizes)
            {
                // Patch a copy, never the original. The input is not in use (checked before), so copying it is safe.
                var copy = Path.Combine(work.FullName, $"input-{size}.db");
                File.Copy(input, copy);
                var wal = File.Exists(input + "-wal");
                if (wal)
                {
                    File.Copy(input + "-wal", copy + "-wal");
                }

                InputHeader.PatchCopy(copy, size, wal);
                var attemptNotes = new List<string>();
                var result = Attempt(copy, Path.Combine(work.FullName, $"output-{size}.db"), known, freelistKnown: false, attemptNotes);
                if (best is null || Better(result, best))
                {
                    best = result;
                    bestSize = size;
                    bestNotes = attemptNotes;
                }
            }

            File.Move(best!.OutputPath, output);
            notes.Add(best.PageSize == bestSize
                ? $"Page size {best.PageSize} gave the most rows."
                : $"Recovered with page size {best.PageSize}, which SQLite's recover extension detected from the pages themselves (the patched header size did not change the result).");
            notes.AddRange(bestNotes);
            return (best with { OutputPath = output }, best.PageSize);
        }
        finally
        {
            work.Delete(recursive: true); // copies and attempts of our own; the original is untouched
        }
    }

    private static bool Better(AttemptResult candidate, AttemptResult best) =>
        (candidate.IntegrityCheck == "ok") != (best.IntegrityCheck == "ok")
            ? candidate.IntegrityCheck == "ok"
            : candidate.RowsInTables != best.RowsInTables ? candidate.RowsInTables > best.RowsInTables : candidate.LostAndFound > best.LostAndFound;

    private static void DropLostAndFound(string path)
    {
        var builder = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = path, Pooling = false };
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection(builder.ToString());
        connection.Open();
        ConnectionFactory.Execute(connection, $"DROP TABLE IF EXISTS {RecoverExtension.LostAndFoundTable}");
    }
}
