using System.Globalization;
using Walden.Files;

namespace Walden.Diagnostics.Doctor;

internal static partial class WaldenDoctor
{
    /// <summary>Item 5, the files: a -wal without its database, companions another user owns, a hot rollback journal.</summary>
    private static void CheckCompanions(DoctorState state, List<DoctorFinding> findings)
    {
        var files = state.Files;
        var walBytes = DatabaseFiles.SizeOf(files.Wal);
        if (!state.Exists)
        {
            if (walBytes is { } bytes)
            {
                findings.Add(new DoctorFinding("files", bytes > 32 ? DoctorSeverity.Danger : DoctorSeverity.Warning,
                    Invariant($"'{Path.GetFileName(files.Wal)}' ({bytes:N0} bytes) exists, but the database '{Path.GetFileName(files.Database)}' does not."),
                    "A -wal holds transactions committed since the last checkpoint, as pages of its database: SQLite reads them only " +
                    "together with that database file. A program that opens this path before the database is back makes SQLite delete " +
                    "the -wal and its transactions with it (pager.c: a -wal beside a missing or empty database is deleted at the first read).",
                    "Find the database this -wal belongs to (moved or renamed?) and put it back beside it under its name before any " +
                    "program opens the path; do not delete the -wal, and do not create a new database here meanwhile."));
            }
            else if (File.Exists(files.Shm))
            {
                findings.Add(new DoctorFinding("files", DoctorSeverity.Warning,
                    $"'{Path.GetFileName(files.Shm)}' exists without its database.",
                    "A -shm is only an index SQLite rebuilds; alone it means the database was moved or deleted while in WAL mode.",
                    "Find out where the database went; the -shm itself holds no data."));
            }

            return;
        }

        if (walBytes is > 32 && DatabaseFiles.SizeOf(files.Database) is 0) // 32: a WAL header without frames (wal.c WAL_HDRSIZE)
        {
            findings.Add(new DoctorFinding("files", DoctorSeverity.Danger,
                Invariant($"'{Path.GetFileName(files.Wal)}' ({walBytes:N0} bytes) exists beside an empty (0-byte) database '{Path.GetFileName(files.Database)}'."),
                "The database file was emptied or replaced while its -wal held transactions. SQLite deletes a -wal beside a database of " +
                "zero pages the moment any program opens it (pager.c, pagerOpenWalIfPresent), so the next open loses them; the doctor did not open it.",
                "Copy the -wal to a safe place now, before any program opens the database; then put the database's real file back " +
                "beside it under its name (SQLite replays the -wal into it)."));
        }

        // Read only where Walden may read a -wal outside SQLite: nobody holds the database (see WalChainBreak.Find).
        if (Integrity.WalChainBreak.Find(files.Database) is { } walBreak)
        {
            findings.Add(new DoctorFinding("files", DoctorSeverity.Danger,
                char.ToUpperInvariant(walBreak.Facts[0]) + walBreak.Facts[1..] + ".",
                "SQLite's recovery stops at the first frame whose checksum or salts fail (bit rot, a bad sector, a lost write), so " +
                "every program sees the database without those committed transactions; a checkpoint copies what comes before the break " +
                "and a reset of the -wal (a RESTART or TRUNCATE checkpoint, or the next write once it is checkpointed) overwrites the rest.",
                Integrity.WalChainBreak.WhatToDo));
        }

        if (FileOwner.Of(files.Database) is { } owner)
        {
            foreach (var companion in new[] { files.Wal, files.Shm, files.Journal })
            {
                if (FileOwner.Of(companion) is { } other && (other.UserId != owner.UserId || other.GroupId != owner.GroupId
                    || !other.WritableBy(owner.UserId, owner.GroupId)))
                {
                    findings.Add(new DoctorFinding("files", DoctorSeverity.Warning,
                        $"'{Path.GetFileName(companion)}' is owned by {other}, the database by {owner}.",
                        other.WritableBy(owner.UserId, owner.GroupId)
                            ? "A companion of another owner is a sign that two users run programs on this file; the next one created may " +
                              "not be writable by the other."
                            : "A program running as the database's owner cannot write it: it fails to open the database (unable to open, " +
                              "attempt to write a readonly database), or opens it read-only.",
                        "Run every program on this database as one user; fix the owner with chown (to the database's owner) when no " +
                        "program has the database open."));
                }
            }
        }

        if (FileOwner.Of(files.Database)?.Links is > 1 and var names)
        {
            findings.Add(new DoctorFinding("files", DoctorSeverity.Danger,
                $"The database file has {names} names (hard links).",
                "SQLite names the -journal and -wal after the name a program opened: a program that opens the database by another " +
                "name does not see a hot journal or the WAL left under this one, and reads or writes the file half-updated " +
                "(sqlite.org/howtocorrupt.html 2.5). A restore or recovery in place would also replace one name only.",
                $"Make every program use one name and remove the others (find them with 'find / -xdev -samefile {files.Database}')."));
        }

        if (state.HotJournal && OpenErrors.IsWalDatabase(state.Real))
        {
            // SQLite rolls a hot journal back before it opens any -wal (pager.c, sqlite3PagerSharedLock), whatever the header says.
            findings.Add(new DoctorFinding("hot journal", DoctorSeverity.Danger,
                Invariant($"'{Path.GetFileName(files.Journal)}' ({DatabaseFiles.SizeOf(files.Journal):N0} bytes) is a hot rollback journal beside a database whose header says WAL."),
                "A WAL database writes no rollback journal: this one is left from a transaction before the file was switched to WAL, " +
                "or it is another database's, copied or renamed here. SQLite rolls it back into the database at the next open, before " +
                "it reads any -wal; another database's journal would write that file's pages into this one.",
                "Open nothing until you know whose journal it is. If it is this database's, let the program that owns the database open " +
                "it. If not, move the journal (keep it) away from the database before any program opens it. 'walden check' shows the " +
                "result of the roll-back on a private copy without changing anything."));
        }
        else if (state.HotJournal)
        {
            findings.Add(new DoctorFinding("hot journal", DoctorSeverity.Warning,
                Invariant($"'{Path.GetFileName(files.Journal)}' ({DatabaseFiles.SizeOf(files.Journal):N0} bytes) is a hot rollback journal: a program stopped in the middle of a transaction, and no process holds the database's write lock."),
                "The database file alone is in a half-written state: the journal is what undoes it. Deleting the journal, or copying " +
                "the database without it, corrupts the database.",
                "Keep the journal beside the database. The next program that opens the database read-write rolls it back " +
                "('walden check' reads it without changing it); the SQLite checks below were skipped because of it."));
        }
    }

    /// <summary>Item 2: where the file lives: the file system, a probe of locks and shared memory, free space.</summary>
    private static void CheckFileSystem(DoctorState state, List<DoctorFinding> findings)
    {
        var folder = Path.GetDirectoryName(state.Real)!;
        if (FileSystems.Of(state.Real) is { } fileSystem)
        {
            var verdict = FileSystems.Judge(fileSystem.Type);
            findings.Add(new DoctorFinding("file system", verdict.Severity,
                $"The database is on {fileSystem.Type} ('{fileSystem.Source}' mounted at {fileSystem.MountPoint}).",
                verdict.Severity == DoctorSeverity.Ok ? "" : verdict.Why + ".",
                verdict.Severity == DoctorSeverity.Ok ? "" : "Keep databases on a local disk of the machine whose programs use them."));
        }

        var probed = FileSystemProbe.Run(folder, Path.GetFileName(state.Real));
        if (probed is { NotProbed: { } skipped })
        {
            findings.Add(new DoctorFinding("locks and shared memory", DoctorSeverity.Warning, $"Not probed: {skipped}.",
                "SQLite needs room beside the database for its -journal, -wal and -shm; a full disk fails every write.",
                "Free space on this disk (see the free space finding), then run the doctor again."));
        }
        else if (probed is { } probe)
        {
            findings.Add(probe.Problem is null
                ? new DoctorFinding("locks and shared memory", DoctorSeverity.Ok,
                    "POSIX locks are enforced and shared memory maps work (probed on a scratch file beside the database).")
                : new DoctorFinding("locks and shared memory", DoctorSeverity.Danger,
                    $"The probe on a scratch file beside the database failed: {probe.Problem}.",
                    "SQLite keeps processes apart with POSIX locks and, in WAL mode, a shared memory map of the -shm; without them two " +
                    "programs overwrite each other's pages.",
                    "Move the database to a local file system."));
        }
        else if (Mounts.WhyUnwritable(folder) is { } unwritable)
        {
            // A read-only mount (or an immutable folder) refuses every user: running as another would change nothing.
            findings.Add(new DoctorFinding("locks and shared memory", DoctorSeverity.Warning,
                $"Not probed: no scratch file can be created in '{folder}'. {unwritable}",
                "SQLite must create its -journal or -wal and -shm in this folder to write the database (and to read a WAL database " +
                "without its -shm); no program can write here, whoever runs it.",
                "Make the file system or the folder writable if programs should write the database; to only read it, 'walden check', " +
                "'info' and 'stats' read it on a private copy."));
        }
        else
        {
            findings.Add(new DoctorFinding("locks and shared memory", DoctorSeverity.Warning,
                $"Not probed: no scratch file can be created in '{folder}' by this user.",
                "SQLite must create its -journal or -wal and -shm in this folder; a program of this user cannot write here.",
                "Run the doctor as the user of the programs that write the database."));
        }

        try
        {
            var free = new DriveInfo(folder).AvailableFreeSpace;
            var database = DatabaseFiles.SizeOf(state.Real) ?? 0;
            var wal = DatabaseFiles.SizeOf(state.Files.Wal) ?? 0;
            var seen = Invariant($"{Size(free)} free beside a database of {Size(database)} and a -wal of {Size(wal)}.");
            findings.Add(free < database + wal
                ? new DoctorFinding("free space", DoctorSeverity.Warning, seen,
                    "A checkpoint can grow the database by the WAL's pages, VACUUM needs about the database's size again, and a backup " +
                    "beside it as much; on a full disk SQLite fails those with SQLITE_FULL.",
                    "Free space on this file system, or move the database to a larger one.")
                : new DoctorFinding("free space", DoctorSeverity.Ok, seen));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // A file system DriveInfo cannot describe: nothing to say about its space.
        }
    }

    private static string Size(long bytes) => bytes < 1024 * 1024
        ? Invariant($"{bytes:N0} B")
        : bytes < 1024L * 1024 * 1024 ? Invariant($"{bytes / 1024.0 / 1024.0:0.0} MiB") : Invariant($"{bytes / 1024.0 / 1024.0 / 1024.0:0.00} GiB");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
