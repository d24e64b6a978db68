using Microsoft.Extensions.Logging;
using Walden.Configuration;
using Walden.Diagnostics;
using Walden.Integrity;
using Walden.Native;

namespace Walden;

public sealed partial class WaldenDatabase
{
    /// <summary>
    /// Opens an existing WAL database for reading only, for a process that never writes it (a viewer, a report, a file watcher
    /// beside the process that writes): the reader pool and nothing else, so no writer thread, no checkpointer (the writing
    /// processes checkpoint), no maintenance, no backups and no watch of the <c>-wal</c>. <see cref="ReadAsync{T}"/>,
    /// <see cref="GetStatsAsync"/> and <see cref="GetHealth"/> work as on any instance; <see cref="WriteAsync{T}"/> and
    /// <see cref="CheckpointAsync"/> fail with <see cref="WaldenReadOnlyException"/>. The options that concern reads apply
    /// (<see cref="WaldenOptions.ReaderPoolSize"/>, <see cref="WaldenOptions.BusyTimeout"/>, <see cref="WaldenOptions.IntegrityCheck"/>:
    /// damage found at open is reported in the health, not refused); the others are ignored.
    /// </summary>
    /// <param name="path">The database file. It must exist and be in WAL mode (any Walden instance leaves it so).</param>
    /// <param name="options">How the reads run; null for the documented defaults.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <exception cref="WaldenConfigurationException">The file does not exist, is not a database, or is not in WAL mode.</exception>
    public static async Task<WaldenDatabase> OpenReadOnlyAsync(string path, WaldenOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options = (options ?? new WaldenOptions()).Clone();
        options.Validate();
        SqliteLibrary.EnsureSupported();
        var fullPath = CheckPath(path, mustExist: true);
        SqliteNeighbours.Check(fullPath, options.LoggerFactory.CreateLogger("Walden"));
        cancellationToken.ThrowIfCancellationRequested();
        return await Task.Run(() => OpenReadOnly(fullPath, options), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>True for an instance opened with <see cref="OpenReadOnlyAsync"/>: it only reads.</summary>
    public bool IsReadOnly => _writer is null;

    private static WaldenDatabase OpenReadOnly(string path, WaldenOptions options)
    {
        var factory = new ConnectionFactory(path, options);
        var registration = Files.OpenDatabases.Add(path);
        try
        {
            WaldenConnectionSettings settings;
            var findings = new List<string>();
            OpenedConnection probe;
            try
            {
                probe = factory.Open(ConnectionRole.Reader);
            }
            catch (WaldenConfigurationException ex) when (ex.Message.Contains("WAL mode", StringComparison.Ordinal))
            {
                throw new WaldenConfigurationException(
                    $"'{path}' is not in WAL mode, and a read-only instance changes nothing in the file, not even its journal mode. " +
                    "Open it once with WaldenDatabase.OpenAsync (which switches it to WAL), then read it with OpenReadOnlyAsync.", ex);
            }

            using (probe)
            {
                settings = factory.ReadSettings(probe.Connection);
                if (options.IntegrityCheck != WaldenIntegrityCheck.None)
                {
                    findings.AddRange(IntegrityChecker.Run(probe.Connection, options.IntegrityCheck));
                }
            }

            var database = new WaldenDatabase(path, options, factory, null, settings) { Registration = registration };
            if (findings.Count > 0)
            {
                database._health.ReportCorruption("The integrity check at open", string.Join(" | ", findings), null);
            }

            LogMessages.Opened(database._logger, database.Name, path, settings.SqliteVersion, settings.Synchronous, options.ReaderPoolSize);
            return database;
        }
        catch
        {
            Files.OpenDatabases.Remove(registration);
            throw;
        }
    }

    private WaldenReadOnlyException ReadOnlyRefusal(string what) =>
        new($"{what} refused: the Walden database '{Name}' was opened with WaldenDatabase.OpenReadOnlyAsync and only reads. " +
            "Write through the instance (or process) that opened it with WaldenDatabase.OpenAsync, or open it that way here.");
}
