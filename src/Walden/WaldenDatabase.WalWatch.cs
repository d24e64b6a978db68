using System.Globalization;
using Microsoft.Data.Sqlite;
using Walden.Configuration;
using Walden.Diagnostics;
using Walden.Files;

namespace Walden;

public sealed partial class WaldenDatabase
{
    /// <summary>How often Walden checks that the database, -wal and -shm at their paths are still the files its connections use.</summary>
    internal static readonly TimeSpan WalWatchInterval = TimeSpan.FromSeconds(1);

    private readonly object _walWatchGate = new();
    private ITimer? _walWatchTimer;
    private FileId? _walId;
    private FileId? _shmId;
    private int _walLost;
    private OpenedConnection? _walIndexReader;

    /// <summary>Where the committed writes were saved after a file of the database was deleted, moved or replaced; null until then.</summary>
    internal string? WalRescuePath { get; private set; }

    private void StartWalWatch()
    {
        _walId = OwnFile("-wal");
        _shmId = OwnFile("-shm");
        using (ExecutionContext.SuppressFlow())
        {
            _walWatchTimer = _options.TimeProvider.CreateTimer(_ => CheckWalFile(), null, WalWatchInterval, WalWatchInterval);
        }
    }

    private async Task StopWalWatchAsync()
    {
        if (_walWatchTimer is { } timer)
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }

        lock (_walWatchGate)
        {
            _walId = null; // taken once a check that was running has finished; none starts after disposal
            _walIndexReader?.Dispose();
            _walIndexReader = null;
        }
    }

    /// <summary>The companion (-wal, -shm) at the path, when a descriptor of this process (Walden's connections) is on it.</summary>
    private FileId? OwnFile(string suffix) =>
        FileId.Of(Path + suffix) is { } id && FileId.OpenDescriptors().Contains(id) ? id : null;

    /// <summary>
    /// Compares the database, its -wal and its -shm at their paths with the files Walden's connections have open (device
    /// and inode), and counts the database's names. When someone deleted, renamed or replaced one of them under the live
    /// database (a "delete the -wal and -shm" repair, a cleanup script, `mv` of the file or of its folder), or gave the
    /// database a second name (a hard link: another program opening it by that name would use another -wal), the writes
    /// acknowledged from then on would be lost or split. Then, at once: writes are refused, a critical line is logged,
    /// health turns Unhealthy, and every committed write is saved with VACUUM INTO from the writer connection, which still
    /// reads the open files, into <c>&lt;db&gt;.wal-rescue-&lt;time&gt;.db</c> beside the database (beside its new name
    /// when its folder was moved away).
    /// </summary>
    /// <returns>True when a file was found lost (now or earlier).</returns>
    internal bool CheckWalFile()
    {
        lock (_walWatchGate)
        {
            if (Volatile.Read(ref _walLost) != 0)
            {
                return true;
            }

            if (Volatile.Read(ref _disposed) != 0)
            {
                return false;
            }

            var what = LostDatabase() ?? LostCompanion("-wal", ref _walId) ?? LostCompanion("-shm", ref _shmId) ?? SecondName() ?? TruncatedWal();
            if (what is null)
            {
                return false;
            }

            Volatile.Write(ref _walLost, 1);
            _health.ReportFileLoss(what);
            RescueCommittedWrites(what);
            return true;
        }
    }

    /// <summary>What became of the database file, when its path no longer names the file Walden has open; null while it does.</summary>
    private string? LostDatabase()
    {
        if (Registration == default || FileId.Of(Path) == Registration)
        {
            return null;
        }

        var folder = System.IO.Path.GetDirectoryName(Path)!;
        var now = FileId.CurrentName(Registration);
        var where = now is null || now.EndsWith(" (deleted)", StringComparison.Ordinal) ? "" : $"; the open file is now '{now}'";
        if (!Directory.Exists(folder))
        {
            return $"its folder '{folder}' no longer exists (moved, renamed or deleted while the database was open){where}";
        }

        return File.Exists(Path)
            ? $"the database file '{Path}' was replaced by another file while the database was open{where}"
            : $"the database file '{Path}' was deleted or renamed while the database was open{where}";
    }

    /// <summary>What became of a companion (-wal, -shm) Walden has open, when its path no longer names it; null while it does.</summary>
    private string? LostCompanion(string suffix, ref FileId? known)
    {
        if (known is not { } id)
        {
            known = OwnFile(suffix); // not created yet at open: record it once it is
            return null;
        }

        var now = FileId.Of(Path + suffix);
        if (now == id)
        {
            return null;
        }

        return $"the {suffix} '{Path}{suffix}' was {(now is null ? "deleted" : "replaced by another file")} while the database was open";
    }

    /// <summary>Says so when the open database file got a second name (a hard link) while open; null otherwise.</summary>
    private string? SecondName() =>
        Diagnostics.Doctor.FileOwner.Of(Path)?.Links is > 1 and var names
            ? $"the database file '{Path}' got {names - 1} more name(s) (hard links) while open: a program opening it by another name " +
              $"would use another -wal and lock file and overwrite its commits. Find them with 'find / -xdev -samefile {Path}' and remove them"
            : null;

    /// <summary>
    /// Says so when the -wal is shorter than the frames the WAL index says are committed in it (`truncate -s 0` by another
    /// program: same inode, so the identity check does not see it). SQLite restarts the WAL (new salts) before any checkpoint
    /// truncates it, so the index is read twice around the file's size, and only an unchanged index counts; null otherwise.
    /// </summary>
    private string? TruncatedWal()
    {
        if (_walId is null)
        {
            return null;
        }

        _walIndexReader ??= _factory.Open(writer: false);
        if (WalIndexHeader.Read(_walIndexReader.Connection) is not { Frames: > 0 } before)
        {
            return null;
        }

        var size = new FileInfo(Path + "-wal").Length; // stat(2): nothing opened
        if (size >= before.CommittedBytes || WalIndexHeader.Read(_walIndexReader.Connection) != before)
        {
            return null;
        }

        return $"the -wal '{Path}-wal' was truncated to {size} bytes while the database was open, below the {before.CommittedBytes} " +
               $"bytes of the {before.Frames} frames committed in it (by another program: Walden's checkpoints restart the WAL first)";
    }

    private void RescueCommittedWrites(string what)
    {
        var stamp = _options.TimeProvider.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        // Beside the database; when its folder was moved away, beside the name the open file has now.
        var beside = Directory.Exists(System.IO.Path.GetDirectoryName(Path)) ? Path
            : FileId.CurrentName(Registration) is { } now && !now.EndsWith(" (deleted)", StringComparison.Ordinal) ? now : Path;
        var rescue = $"{beside}.wal-rescue-{stamp}.db";
        for (var n = 2; File.Exists(rescue); n++)
        {
            rescue = $"{beside}.wal-rescue-{stamp}-{n}.db";
        }

        try
        {
            // Writes are refused from now on; the pause waits for a batch in flight, so every acknowledged write is in the copy.
            using (_checkpointer!.Pause.Hold())
            {
                using var command = _writerConnection!.Connection.CreateCommand();
                command.CommandText = "VACUUM INTO $rescue";
                command.Parameters.AddWithValue("$rescue", rescue);
                command.ExecuteNonQuery();
            }

            WalRescuePath = rescue;
            _health.NoteRescue(rescue);
            LogMessages.WalFileLost(_logger, Name, Path, what, rescue);
        }
        catch (SqliteException ex)
        {
            LogMessages.WalRescueFailed(_logger, Name, Path, what, rescue, ex);
        }
    }
}
