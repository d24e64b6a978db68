using System.Buffers.Binary;
using Microsoft.Data.Sqlite;
using Walden.Diagnostics;
using Walden.Diagnostics.Doctor;
using Walden.Native;

namespace Walden;

public sealed partial class WaldenDatabase
{
    /// <summary>How often Walden looks for other processes holding the file with an SQLite that has the WAL-reset bug.</summary>
    internal static readonly TimeSpan EnvironmentWatchInterval = TimeSpan.FromSeconds(5);

    private const string ForeignKeyPrefix = "foreign-process:";
    private readonly object _environmentGate = new();
    private readonly HashSet<string> _foreignLogged = new(StringComparer.Ordinal);
    private ITimer? _environmentTimer;

    /// <summary>
    /// The cheap checks of <c>walden doctor</c>, run at open (each hazard logged once as a warning; those that
    /// corrupt are kept in health as a Degraded reason): the file system, another SQLite library in this process, the last writer recorded in the header
    /// (offset 96), and other processes holding the file with an SQLite that has the WAL-reset bug. Reads /proc/self/mountinfo,
    /// /proc/self/maps, /proc/locks and the maps of the processes holding the file; page 1 through SQLite. Never throws.
    /// </summary>
    private void CheckEnvironmentAtOpen()
    {
        try
        {
            if (FileSystems.Of(Path) is { } fileSystem && FileSystems.Judge(fileSystem.Type) is { Severity: not DoctorSeverity.Ok } verdict)
            {
                LogMessages.RiskyFileSystem(_logger, Name, fileSystem.Type, fileSystem.MountPoint, verdict.Why);
                if (verdict.Severity == DoctorSeverity.Danger)
                {
                    // Only a file system that corrupts (network, VM shares) degrades health; tmpfs, overlay and local FUSE are
                    // logged, since many run there on purpose (tests, containers) and nothing there breaks SQLite's locks.
                    _health.SetEnvironmentHazard("file-system", $"The database is on a {fileSystem.Type} file system ({fileSystem.MountPoint}): {verdict.Why}.");
                }
            }

            // SqliteNeighbours.Check found and logged them a moment ago (event 1700); health keeps them.
            if (SqliteNeighbours.LastFound is { Count: > 0 } others)
            {
                _health.SetEnvironmentHazard("sqlite-in-process",
                    $"Another SQLite library is loaded in this process ({string.Join(", ", others.Select(o => $"SQLite {o.Version}, {o.Path}"))}): " +
                    "two SQLite copies that open one file break each other's POSIX locks (sqlite.org/howtocorrupt.html 2.2.1).");
            }

            CheckLastWriter();
            CheckForeignProcesses();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SqliteException)
        {
            // The checks only inform; a file system that refuses one of them must not stop the open.
        }
    }

    /// <summary>Header offset 96 through sqlite_dbpage on the writer connection (before the writer starts): SQLite's view, -wal included.</summary>
    private void CheckLastWriter()
    {
        if (!SqliteLibrary.IsWaldenBuild || _writerConnection is null)
        {
            return; // the stock SQLite has no sqlite_dbpage, the header is not read outside SQLite, and a read-only instance has no writer
        }

        using var command = _writerConnection.Connection.CreateCommand();
        command.CommandText = "SELECT substr(data, 97, 4) FROM sqlite_dbpage WHERE pgno = 1";
        if (command.ExecuteScalar() is byte[] { Length: 4 } bytes && BinaryPrimitives.ReadInt32BigEndian(bytes) is var number
            && number > 0 && SqliteBuilds.IsAffected(number))
        {
            var version = SqliteBuilds.TextOf(number);
            LogMessages.LastWriterOldSqlite(_logger, Name, version);
            _health.SetEnvironmentHazard("last-writer",
                $"The file header says SQLite {version} wrote it last (offset 96), a version with the WAL-reset bug: a program on that " +
                "SQLite writes this WAL database and can corrupt it. Find it ('walden doctor' names the processes holding the file) " +
                "and upgrade its SQLite to 3.51.3 or later.");
        }
    }

    /// <summary>
    /// The processes other than this one holding a lock on the database or its -shm (every open WAL connection holds one on the
    /// -shm), from /proc/locks, with the SQLite libraries each has mapped: a warning (once per process and library) and a
    /// Degraded reason for each with the WAL-reset bug; reasons of processes gone are cleared.
    /// </summary>
    internal void CheckForeignProcesses()
    {
        lock (_environmentGate)
        {
            var self = Environment.ProcessId;
            var pids = FileLocks.OnAny([Path + "-shm", Path]).Select(l => l.ProcessId)
                .Where(pid => pid > 0 && pid != self).ToHashSet();
            var current = new HashSet<string>(StringComparer.Ordinal);
            foreach (var pid in pids)
            {
                var old = ProcessSqlite.Of(pid).Where(s => s.Build.HasWalResetBug == true).ToList();
                if (old.Count == 0)
                {
                    continue;
                }

                var key = ForeignKeyPrefix + pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
                var command = Checkpointing.WalReaderProcesses.CommandLineOf(pid) ?? "command unknown";
                var libraries = string.Join(" and ", old);
                current.Add(key);
                if (_foreignLogged.Add($"{key}|{libraries}"))
                {
                    LogMessages.ForeignOldSqlite(_logger, Name, pid, command, libraries);
                }

                _health.SetEnvironmentHazard(key, $"Process {pid} ({command}) has the file open with {libraries}, which has the " +
                    "WAL-reset bug: with it writing and checkpointing too, the database can be corrupted (sqlite.org/wal.html#walresetbug). " +
                    "Upgrade its SQLite to 3.51.3 or later, or keep it away from this file.");
            }

            foreach (var gone in _health.EnvironmentHazardKeys(ForeignKeyPrefix).Where(k => !current.Contains(k)))
            {
                _health.SetEnvironmentHazard(gone, null);
            }
        }
    }

    private void StartEnvironmentWatch()
    {
        using (ExecutionContext.SuppressFlow())
        {
            _environmentTimer = _options.TimeProvider.CreateTimer(_ => WatchEnvironment(), null, EnvironmentWatchInterval, EnvironmentWatchInterval);
        }
    }

    private void WatchEnvironment()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        try
        {
            CheckForeignProcesses();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // /proc changed under the scan (a process ended); the next round sees the new state
        }
    }

    private async Task StopEnvironmentWatchAsync()
    {
        if (_environmentTimer is { } timer)
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }
    }
}
