using Walden.Files;
using Walden.Native;

namespace Walden.Diagnostics.Doctor;

/// <summary>
/// <c>walden doctor</c>: finds the hazards around a database file that corrupt or lose SQLite databases (an SQLite with the
/// WAL-reset bug in a process holding the file, two SQLite copies in one process, a network or virtualised file system, data
/// living only in a deleted file a process still holds, stray or foreign-owned companions, a hot journal, a reader holding the
/// WAL back, a bloated freelist). Read-only and safe on a database in use: the database, -wal and -shm are read only through
/// SQLite (one read-only connection, closed at the end); everything else comes from /proc and file metadata, and the file system
/// probe uses a scratch file of its own beside the database.
/// </summary>
internal static partial class WaldenDoctor
{
    /// <summary>How long <c>PRAGMA quick_check</c> may run before it is interrupted and reported as not finished.</summary>
    internal static readonly TimeSpan QuickCheckBudget = TimeSpan.FromSeconds(10);

    /// <summary>Examines <paramref name="path"/>.</summary>
    /// <exception cref="WaldenConfigurationException">The path is a folder, or neither the database nor any companion or holder exists.</exception>
    internal static DoctorReport Examine(string path, TimeSpan? quickCheckBudget = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        SqliteLibrary.EnsureSupported();
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new WaldenConfigurationException($"'{full}' is a directory; pass the database file inside it.");
        }

        // Before any probe opens it: a named pipe blocks the open forever, and a device reads as an empty or endless file.
        FileKind.EnsureDatabaseFile(full);
        if (!Directory.Exists(Path.GetDirectoryName(full)))
        {
            throw new WaldenConfigurationException($"The folder of '{full}' does not exist. Check the path.");
        }

        var real = OpenErrors.RealPath(full) ?? full;
        var files = DatabaseFiles.For(real);
        var holders = DatabaseHolders.Find(real);
        var exists = File.Exists(real);
        if (!exists && !File.Exists(files.Wal) && !File.Exists(files.Shm) && !File.Exists(files.Journal)
            && !holders.Any(h => h.Files.Any(f => f.Deleted)))
        {
            throw new WaldenConfigurationException($"'{full}' does not exist, and neither does a -wal, -shm or -journal beside it, " +
                "nor a process holding a deleted copy. Check the path.");
        }

        var state = new DoctorState(full, real, files, holders, exists);
        var findings = new List<DoctorFinding>();
        var processes = GatherProcesses(state);
        CheckDeletedFiles(state, findings);
        CheckCompanions(state, findings);
        // An empty database beside a -wal: SQLite would delete the -wal on opening it, so the doctor does not (OrphanedCompanions).
        if (exists && !state.HotJournal && OrphanedCompanions.Problem(real) is null)
        {
            state.Sqlite = SqliteFacts.Read(real, alone: processes.Count == 0, quickCheckBudget ?? QuickCheckBudget);
            if (state.Sqlite.ErrorCode == Errors.SqliteErrors.NotADb)
            {
                throw new WaldenConfigurationException($"SQLite says '{full}' is not a database ({state.Sqlite.Error}). Check the path; " +
                    "if it is your database and its header is damaged, run 'walden check' and 'walden recover'.");
            }

            CheckSqlite(state, findings);
        }

        JudgeLibraries(state, processes, findings);
        CheckFileSystem(state, findings);
        var severity = findings.Count == 0 ? DoctorSeverity.Ok : findings.Max(f => f.Severity);
        return new DoctorReport(full, severity, Order(findings), Report(processes));
    }

    /// <summary>The checks in a fixed order (processes and files first), each kind's dangers before its warnings.</summary>
    private static List<DoctorFinding> Order(List<DoctorFinding> findings)
    {
        string[] order = ["processes", "SQLite in process", "deleted file held open", "file system", "locks and shared memory",
            "free space", "files", "hot journal", "journal mode", "last writer", "WAL", "readers", "freelist", "pages", "quick_check"];
        return findings.OrderBy(f => Array.IndexOf(order, f.Check) is var i && i < 0 ? order.Length : i).ToList();
    }

    /// <summary>What the checks share.</summary>
    private sealed class DoctorState(string path, string real, DatabaseFiles files, IReadOnlyList<DatabaseHolder> holders, bool exists)
    {
        private bool? _hotJournal;

        internal string Path { get; } = path;

        internal string Real { get; } = real;

        internal DatabaseFiles Files { get; } = files;

        internal IReadOnlyList<DatabaseHolder> Holders { get; } = holders;

        internal bool Exists { get; } = exists;

        internal SqliteFacts? Sqlite { get; set; }

        internal IReadOnlyList<FileLock> ShmLocks { get; } = FileLocks.On(files.Shm).Where(l => l.ProcessId != Environment.ProcessId).ToList();

        internal IReadOnlyList<FileLock> DatabaseLocks { get; } =
            FileLocks.On(files.Database).Where(l => l.ProcessId != Environment.ProcessId).ToList();

        /// <summary>A rollback journal left by a transaction cut off, with no process holding the database's RESERVED lock.</summary>
        internal bool HotJournal => _hotJournal ??= ForeignFile.HasHotJournal(Real) && !DatabaseLocks.Any(l => l.Covers(FileLocks.ReservedByte));

        /// <summary>WAL mode as SQLite says; without SQLite's answer, a -wal or -shm beside the file counts as WAL.</summary>
        internal bool Wal => Sqlite?.JournalMode is { } mode ? mode == "wal" : File.Exists(Files.Wal) || File.Exists(Files.Shm);
    }
}
