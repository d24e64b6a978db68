using Walden.Files;

namespace Walden.Diagnostics.Doctor;

internal static partial class WaldenDoctor
{
    /// <summary>Frames a reader may hold back before it is worth a warning: SQLite's own default checkpoint threshold (1,000 pages).</summary>
    internal const long ReaderFramesBehindWarning = 1_000;

    /// <summary>A freelist at least this share of the pages, and at least <see cref="FreelistBytesWarning"/>, is worth a warning.</summary>
    internal const double FreelistShareWarning = 0.25;

    /// <summary>Freelists smaller than this are not worth a VACUUM.</summary>
    internal const long FreelistBytesWarning = 1024 * 1024;

    /// <summary>A -wal larger than Walden's default WalSizeLimit means checkpoints do not keep up.</summary>
    internal static readonly long WalBytesWarning = new WaldenOptions().WalSizeLimit;

    /// <summary>Items 4 and 5 from SQLite: journal mode, last writer, WAL and readers, freelist, pages, quick_check.</summary>
    private static void CheckSqlite(DoctorState state, List<DoctorFinding> findings)
    {
        if (state.Sqlite is not { } facts)
        {
            return; // a hot journal: reported with why the checks were skipped
        }

        if (facts.Error is { } locked && facts.ErrorCode is Errors.SqliteErrors.Busy or Errors.SqliteErrors.Locked)
        {
            findings.Add(new DoctorFinding("quick_check", DoctorSeverity.Warning,
                $"SQLite could not read the database: {locked} (another process holds a lock that keeps readers out; the processes finding names it).",
                "The checks that need SQLite (journal mode, last writer, WAL, freelist, quick_check) could not run. A writer holds such " +
                "a lock while it commits, or from the moment a large transaction no longer fits in its page cache until it ends; a " +
                "connection in PRAGMA locking_mode=EXCLUSIVE holds it until it closes.",
                "Run the doctor again once that transaction ends, or when the program in locking_mode=EXCLUSIVE has closed the database."));
            return;
        }

        if (facts.Error is { } error)
        {
            findings.Add(new DoctorFinding("quick_check", facts.ErrorCode == Errors.SqliteErrors.Corrupt ? DoctorSeverity.Danger : DoctorSeverity.Warning,
                $"SQLite could not read the database: {error}",
                "The checks that need SQLite (journal mode, last writer, WAL, freelist, quick_check) could not run.",
                facts.ErrorCode == Errors.SqliteErrors.Corrupt
                    ? "Run 'walden check' for the findings and 'walden recover' to get the data back."
                    : "Run the doctor as a user who can read the database and its folder."));
            return;
        }

        var (mode, seenInJournal) = Walden.Files.JournalModes.Of(state.Files.Database, facts.JournalMode ?? string.Empty);
        findings.Add(new DoctorFinding("journal mode", DoctorSeverity.Ok, $"Journal mode: {Walden.Files.JournalModes.Describe(mode, seenInJournal)}."));
        CheckLastWriter(facts, findings);
        if (facts.JournalMode == "wal")
        {
            CheckWal(state, facts, findings);
        }

        var freelistBytes = facts.FreelistCount * facts.PageSize;
        var share = facts.PageCount == 0 ? 0 : (double)facts.FreelistCount / facts.PageCount;
        var seen = Invariant($"{facts.FreelistCount:N0} of {facts.PageCount:N0} pages are free ({share:P0}, {Size(freelistBytes)}); auto_vacuum {facts.AutoVacuum}.");
        findings.Add(share >= FreelistShareWarning && freelistBytes >= FreelistBytesWarning
            ? new DoctorFinding("freelist", DoctorSeverity.Warning, seen,
                "SQLite reuses free pages but never gives them back to the file system by itself: the file keeps its largest size " +
                "(a public report: 101 GB holding 17 rows), and backups and copies carry the empty pages.",
                facts.AutoVacuum == "incremental"
                    ? "Run PRAGMA incremental_vacuum (Walden's maintenance does) to give the free pages back."
                    : "Run VACUUM when no program writes (it needs about the database's size in free space), or switch to incremental " +
                      "vacuum once: PRAGMA auto_vacuum=INCREMENTAL; VACUUM; then PRAGMA incremental_vacuum from time to time.")
            : new DoctorFinding("freelist", DoctorSeverity.Ok, seen));
        var pages = Invariant($"Page size {facts.PageSize:N0} B, {facts.PageCount:N0} pages, auto_vacuum {facts.AutoVacuum}.");
        findings.Add(Integrity.TrailingBytes.Note(DatabaseFiles.SizeOf(state.Real), facts.PageSize, facts.PageCount) is { } trailing
            ? new DoctorFinding("pages", DoctorSeverity.Warning, $"{pages} {trailing}",
                "Bytes past the last page are a sign that something other than SQLite wrote or copied this file.",
                "Nothing is needed for SQLite; find the tool that appended to or copied the file, and VACUUM when no program writes.")
            : new DoctorFinding("pages", DoctorSeverity.Ok, pages));

        if (facts.QuickCheck is { } rows)
        {
            findings.Add(rows is ["ok"]
                ? new DoctorFinding("quick_check", DoctorSeverity.Ok, string.Join(" ", ["PRAGMA quick_check: ok.", .. facts.QuickCheckNotes]))
                : new DoctorFinding("quick_check", DoctorSeverity.Danger, $"PRAGMA quick_check: {string.Join(" | ", rows)}",
                    "The database is damaged: reads can return wrong results or fail, and writes can spread the damage.",
                    "Stop writing to it; run 'walden check' for the details and 'walden recover --in-place' (the original is kept)."));
        }
        else if (facts.QuickCheckMissing is { } missing)
        {
            findings.Add(new DoctorFinding("quick_check", DoctorSeverity.Warning, missing + ".", "", "Run 'walden check' when there is time."));
        }
    }

    /// <summary>Item 4: the version of the last SQLite that wrote the header (offset 96).</summary>
    private static void CheckLastWriter(SqliteFacts facts, List<DoctorFinding> findings)
    {
        if (facts.LastWriterVersion is not { } number)
        {
            findings.Add(new DoctorFinding("last writer", DoctorSeverity.Ok, $"Not known: {facts.LastWriterUnknown}."));
            return;
        }

        var version = SqliteBuilds.TextOf(number);
        var affected = SqliteBuilds.IsAffected(number);
        var wal = facts.JournalMode == "wal";
        findings.Add(affected && wal
            ? new DoctorFinding("last writer", DoctorSeverity.Danger,
                $"The header says SQLite {version} wrote the database last (header offset 96), and the database is in WAL mode.",
                WalResetBugWhy + ". A program on that version writes this file.",
                "Find the program with that SQLite (the processes above, a cron job, a script) and upgrade it to 3.51.3 or later " +
                "(3.53+), or keep it away from this file.")
            : new DoctorFinding("last writer", DoctorSeverity.Ok,
                $"SQLite {version} wrote the header last (header offset 96)" +
                (affected ? "; that version has the WAL-reset bug, which needs WAL mode, and this file is not in WAL mode." : ".")));
    }

    /// <summary>Item 5, the WAL: its size, the frames not yet checkpointed, and readers holding it back (from the lock bytes).</summary>
    private static void CheckWal(DoctorState state, SqliteFacts facts, List<DoctorFinding> findings)
    {
        var walBytes = DatabaseFiles.SizeOf(state.Files.Wal) ?? 0;
        var index = facts.WalIndex;
        var frames = index is null
            ? "the frame counts are not known (SQLite's map of the -shm was not found)"
            : Invariant($"{index.MaxFrame:N0} frames since its last reset, {index.NotCheckpointed:N0} of them not yet copied into the database");
        var seen = Invariant($"The -wal is {Size(walBytes)}: {frames}.");
        findings.Add(walBytes > WalBytesWarning
            ? new DoctorFinding("WAL", DoctorSeverity.Warning, seen,
                "A large WAL slows every read (each looks its pages up in the WAL index) and a crash leaves a long recovery; it means " +
                "checkpoints do not keep up or a reader holds them back.",
                "Let one program own checkpoints (Walden does); see the readers finding; PRAGMA wal_checkpoint(TRUNCATE) when idle.")
            : new DoctorFinding("WAL", DoctorSeverity.Ok, seen));
        CheckReaders(state, index, walBytes, findings);
    }

    /// <summary>
    /// Which processes hold a WAL read mark (shared locks on -shm bytes 123 to 127 in /proc/locks) and how far behind the WAL's
    /// end their snapshot is (the read mark's value against mxFrame). Locks carry no time: the age is only bounded below by the
    /// -wal's last write, which came after the reader's snapshot when the reader is behind.
    /// </summary>
    private static void CheckReaders(DoctorState state, WalIndexState? index, long walBytes, List<DoctorFinding> findings)
    {
        var readers = state.ShmLocks.Where(l => !l.Write && l.Start <= FileLocks.ShmFirstReadMark + 4 && l.End >= FileLocks.ShmFirstReadMark)
            .SelectMany(l => Enumerable.Range(0, 5).Where(i => l.Covers(FileLocks.ShmFirstReadMark + i)).Select(i => (l.ProcessId, Mark: i)))
            .Distinct()
            .ToList();
        if (readers.Count == 0)
        {
            findings.Add(new DoctorFinding("readers", DoctorSeverity.Ok, "No other process holds a read transaction on the WAL."));
            return;
        }

        var lastWrite = File.GetLastWriteTimeUtc(state.Files.Wal);
        foreach (var group in readers.GroupBy(r => r.ProcessId))
        {
            var who = state.Holders.FirstOrDefault(h => h.ProcessId == group.Key)?.ToString()
                ?? $"process {group.Key} ({Checkpointing.WalReaderProcesses.CommandLineOf(group.Key) ?? "command unknown"})";
            var mark = group.Min(r => r.Mark);
            long? behind = index is null ? null
                : mark == 0 ? index.MaxFrame - (long)Math.Min(index.Backfilled, index.MaxFrame)
                : index.ReadMarks[mark] <= index.MaxFrame ? index.MaxFrame - index.ReadMarks[mark] : null;
            var age = TimeProvider.System.GetUtcNow().UtcDateTime - lastWrite;
            var seen = behind is { } frames
                ? frames > 0
                    ? Invariant($"{who} holds a read transaction (WAL read mark {mark}) whose snapshot is {frames:N0} frames behind the WAL's end; ") +
                      Invariant($"it has been open at least {age.TotalSeconds:N0} s (since the -wal's last write; locks do not say when they were taken).")
                    : $"{who} holds a read transaction (WAL read mark {mark}) on the latest snapshot."
                : $"{who} holds a read transaction (WAL read mark {mark}).";
            findings.Add(behind >= ReaderFramesBehindWarning
                ? new DoctorFinding("readers", DoctorSeverity.Warning, seen,
                    "While that snapshot is open, checkpoints cannot copy the frames after it nor start the WAL over, so the -wal " +
                    Invariant($"({Size(walBytes)}) only grows."),
                    "End that read transaction (commit or reset the statement the program keeps open), or let Walden's read leases " +
                    "end over-long reads.")
                : new DoctorFinding("readers", DoctorSeverity.Ok, seen));
        }
    }
}
