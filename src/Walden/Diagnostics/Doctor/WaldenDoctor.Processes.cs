using System.Globalization;

namespace Walden.Diagnostics.Doctor;

internal static partial class WaldenDoctor
{
    private const string WalResetBugWhy = "SQLite 3.7.0 to 3.51.2 (and the withdrawn 3.52.0) have the WAL-reset bug: with connections " +
        "writing and checkpointing one WAL database at about the same time, the database can be corrupted (sqlite.org/wal.html#walresetbug)";

    /// <summary>A holder with the SQLite copies it has mapped.</summary>
    private sealed record Holder(DatabaseHolder Process, IReadOnlyList<MappedSqlite> Sqlite);

    /// <summary>The processes holding the files (by descriptor, or, for processes whose descriptors cannot be read, by lock).</summary>
    private static List<Holder> GatherProcesses(DoctorState state)
    {
        var holders = state.Holders.Select(h => new Holder(h, ProcessSqlite.Of(h.ProcessId))).ToList();
        var seen = holders.Select(h => h.Process.ProcessId).ToHashSet();
        foreach (var pid in state.ShmLocks.Concat(state.DatabaseLocks).Select(l => l.ProcessId).Where(pid => pid > 0).Distinct())
        {
            if (seen.Add(pid))
            {
                // Its locks are visible in /proc/locks but its descriptors are not: another user's process, seen without root.
                holders.Add(new Holder(new DatabaseHolder(pid, Checkpointing.WalReaderProcesses.CommandLineOf(pid), []), ProcessSqlite.Of(pid)));
            }
        }

        return holders.OrderBy(h => h.Process.ProcessId).ToList();
    }

    private static List<DoctorProcess> Report(List<Holder> holders) => holders.Select(h => new DoctorProcess(
        h.Process.ProcessId,
        h.Process.CommandLine,
        h.Process.Files.Count == 0
            ? ["(holds SQLite locks; its descriptors are not readable: run as root to see them)"]
            : h.Process.Files.Select(f => $"{Path.GetFileName(f.File)}{(f.Deleted ? " (deleted)" : "")} (fd {f.Descriptor})").ToList(),
        h.Sqlite.Select(s => new DoctorLibrary(s.What, s.Build.Version, s.Build.SourceId, s.Build.File, s.Build.HasWalResetBug)).ToList()))
        .ToList();

    /// <summary>Item 1: who has the file open, with which SQLite; an old SQLite on a WAL file, or two SQLite copies in one process.</summary>
    private static void JudgeLibraries(DoctorState state, List<Holder> holders, List<DoctorFinding> findings)
    {
        if (holders.Count == 0)
        {
            var scope = Environment.UserName == "root" ? "" : " (only this user's processes are visible; run as root to see all)";
            findings.Add(new DoctorFinding("processes", DoctorSeverity.Ok,
                $"No other process has the database, -wal, -shm or -journal open{scope}."));
            return;
        }

        foreach (var holder in holders)
        {
            var who = holder.Process.ToString();
            var libraries = holder.Sqlite;
            var old = libraries.Where(s => s.Build.HasWalResetBug == true).ToList();
            var distinct = libraries.DistinctBy(s => s.Build.File).ToList();
            if (old.Count > 0)
            {
                findings.Add(new DoctorFinding("processes", state.Wal ? DoctorSeverity.Danger : DoctorSeverity.Warning,
                    $"{who} has the database open with {string.Join(" and ", old)}" +
                    (state.Wal ? ", and the database is in WAL mode." : "; the database is not in WAL mode now."),
                    WalResetBugWhy + (state.Wal ? "." : "; it strikes once the file is switched to WAL."),
                    "Upgrade that program's SQLite to 3.51.3 or later (3.53+), or stop it from opening this file: " + Upgrade(old[0].What)));
            }
            else if (libraries.Count == 0)
            {
                findings.Add(new DoctorFinding("processes", DoctorSeverity.Warning,
                    $"{who} has {Files(holder)} open, and no SQLite library was found mapped in it.",
                    "A program reading or writing the file without SQLite (cp, rsync, a backup agent, an editor) copies a torn file or " +
                    "breaks SQLite's locks; or its SQLite is linked in under a name not looked at.",
                    "Find out what that process is; copy a live database only with SQLite's backup API (walden backup) or VACUUM INTO."));
            }
            else
            {
                findings.Add(new DoctorFinding("processes", DoctorSeverity.Ok,
                    $"{who} has {Files(holder)} open with {string.Join(" and ", libraries)}."));
            }

            if (distinct.Count > 1)
            {
                findings.Add(new DoctorFinding("SQLite in process", DoctorSeverity.Danger,
                    $"{who} has {distinct.Count} different SQLite libraries mapped: {string.Join("; ", distinct)}.",
                    "Two SQLite copies in one process that open the same file break each other's POSIX locks: closing a connection of one " +
                    "drops the locks of the other (sqlite.org/howtocorrupt.html 2.2.1).",
                    "Let that program load one SQLite only (in .NET: reference Microsoft.Data.Sqlite.Core, not Microsoft.Data.Sqlite or a " +
                    "bundle, beside Walden)."));
            }
        }
    }

    private static string Files(Holder holder) => holder.Process.Files.Count == 0
        ? "locks on the database"
        : string.Join(", ", holder.Process.Files.Select(f => Path.GetFileName(f.File)).Distinct());

    private static string Upgrade(string what) => what switch
    {
        _ when what.StartsWith("Python", StringComparison.Ordinal) =>
            "Python's sqlite3 module uses the SQLite it was built with (Debian 12: 3.40.1); use a Python built against a newer " +
            "libsqlite3, or the pysqlite3-binary package in its place.",
        _ when what.StartsWith("better-sqlite3", StringComparison.Ordinal) => "update better-sqlite3 to a release bundling SQLite 3.51.3+.",
        _ when what.StartsWith("Node", StringComparison.Ordinal) => "update Node to a release whose node:sqlite is on SQLite 3.51.3+.",
        _ when what.StartsWith("e_sqlite3", StringComparison.Ordinal) =>
            "update Microsoft.Data.Sqlite to 10.0.12+ or 11.0.0 (SQLitePCLRaw 2.1.12+ loads 3.53.3).",
        _ when what.StartsWith("the system", StringComparison.Ordinal) => "update the system's libsqlite3 package.",
        _ => "update the library or program that carries it.",
    };

    /// <summary>Item 3: a deleted database, -wal or -shm that a process still holds open.</summary>
    private static void CheckDeletedFiles(DoctorState state, List<DoctorFinding> findings)
    {
        foreach (var holder in state.Holders)
        {
            foreach (var file in holder.Files.Where(f => f.Deleted))
            {
                var fd = string.Create(CultureInfo.InvariantCulture, $"/proc/{holder.ProcessId}/fd/{file.Descriptor}");
                var name = Path.GetFileName(file.File);
                var (why, action) = file.File.EndsWith("-shm", StringComparison.Ordinal)
                    ? ("That process still uses a wal-index that no new connection sees; once another program opens the database with a " +
                       "new -shm, the two keep different indexes of one WAL and corrupt the database.",
                       "Let that process close its connections (or restart it) before any other program opens the database; delete nothing.")
                    : file.File.EndsWith("-wal", StringComparison.Ordinal)
                        ? ("The transactions committed since the last checkpoint exist only in that open file: when the process exits they " +
                           "are gone, and a program opening the database now does not see them.",
                           $"Before that process exits: let it checkpoint (PRAGMA wal_checkpoint(TRUNCATE) in it), or stop every other " +
                           $"program and save the file with 'cp {fd} \"{state.Real}.saved-wal\"'; delete nothing.")
                        : ("The database that process works on exists only in its open descriptor: when it exits, it is gone.",
                           $"Before that process exits: save it with 'cp {fd} \"{state.Real}.saved\"' (and its -wal, if it holds one, beside " +
                           "it with the matching name), then check the copy with 'walden check'; delete nothing.");
                findings.Add(new DoctorFinding("deleted file held open", DoctorSeverity.Danger,
                    $"{holder} holds '{name}' open as descriptor {file.Descriptor}, but that file was deleted or replaced ({fd}).",
                    why, action));
            }
        }
    }
}
