using System.Globalization;
using Microsoft.Data.Sqlite;
using Walden.Configuration;
using Walden.Diagnostics;
using Walden.Files;

namespace Walden;

public sealed partial class WaldenDatabase
{
    /// <summary>How often Walden checks that the -wal at its path is still the file its connections write to.</summary>
    internal static readonly TimeSpan WalWatchInterval = TimeSpan.FromSeconds(1);

    private readonly object _walWatchGate = new();
    private ITimer? _walWatchTimer;
    private FileId? _walId;
    private int _walLost;

    /// <summary>Where the committed writes were saved after the -wal was deleted or replaced; null until then.</summary>
    internal string? WalRescuePath { get; private set; }

    private void StartWalWatch()
    {
        _walId = OwnWal();
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
        }
    }

    /// <summary>The -wal at the path, when a descriptor of this process (Walden's connections) is on it.</summary>
    private FileId? OwnWal()
    {
        var wal = Path + "-wal";
        return FileId.Of(wal) is { } id && FileId.OpenDescriptors().Contains(id) ? id : null;
    }

    /// <summary>
    /// Compares the -wal at the path with the one Walden's connections have open (device and inode). When someone
    /// deleted or replaced it under the live database (a "delete the -wal and -shm" repair, a cleanup script), the
    /// writes committed since the last checkpoint live only in the file Walden still holds open, and the next
    /// program to open the database would not see them. Then, at once: writes are refused (anything acknowledged
    /// later would be lost too), a critical line is logged, health turns Unhealthy, and every committed write is
    /// saved with VACUUM INTO from the writer connection, which still reads the old -wal, into
    /// <c>&lt;db&gt;.wal-rescue-&lt;time&gt;.db</c> beside the database.
    /// </summary>
    /// <returns>True when the -wal was found lost (now or earlier).</returns>
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

            if (_walId is not { } known)
            {
                _walId = OwnWal(); // not created yet at open: record it once it is
                return false;
            }

            var now = FileId.Of(Path + "-wal");
            if (now == known)
            {
                return false;
            }

            Volatile.Write(ref _walLost, 1);
            var what = now is null ? "it was deleted" : "another file was put in its place";
            _health.ReportFileLoss($"The -wal '{Path}-wal' was deleted or replaced while the database was open ({what})");
            RescueCommittedWrites(what);
            return true;
        }
    }

    private void RescueCommittedWrites(string what)
    {
        var stamp = _options.TimeProvider.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var rescue = $"{Path}.wal-rescue-{stamp}.db";
        for (var n = 2; File.Exists(rescue); n++)
        {
            rescue = $"{Path}.wal-rescue-{stamp}-{n}.db";
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
            LogMessages.WalFileLost(_logger, Name, Path + "-wal", what, rescue);
        }
        catch (SqliteException ex)
        {
            LogMessages.WalRescueFailed(_logger, Name, Path + "-wal", what, rescue, ex);
        }
    }
}
