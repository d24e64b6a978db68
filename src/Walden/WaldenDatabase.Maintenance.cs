using Walden.Configuration;
using Walden.Diagnostics;

namespace Walden;

public sealed partial class WaldenDatabase
{
    /// <summary>Bounds ANALYZE inside PRAGMA optimize to about this many rows per index, so maintenance holds the write lock briefly.</summary>
    private const int AnalysisLimit = 400;

    /// <summary>
    /// One round of maintenance, as an ordinary write through the queue (so it never competes with the writer
    /// for the lock and holds it only as long as one short write): <c>PRAGMA optimize</c> with a bounded
    /// <c>analysis_limit</c>, and on an <c>auto_vacuum=INCREMENTAL</c> database whose freelist holds at least
    /// <see cref="WaldenOptions.IncrementalVacuumPages"/> pages, one <c>incremental_vacuum</c> step of that many pages.
    /// </summary>
    /// <returns>The pages the incremental vacuum step released (0 when it did not run).</returns>
    internal Task<long> RunMaintenanceAsync(CancellationToken cancellationToken = default) =>
        WriteAsync(connection =>
        {
            ConnectionFactory.Execute(connection, $"PRAGMA analysis_limit={AnalysisLimit}");
            ConnectionFactory.Execute(connection, "PRAGMA optimize");
            var pages = _options.IncrementalVacuumPages;
            if (pages == 0 || ConnectionFactory.Scalar<long>(connection, "PRAGMA auto_vacuum") != 2)
            {
                return 0L;
            }

            var before = ConnectionFactory.Scalar<long>(connection, "PRAGMA freelist_count");
            if (before < pages)
            {
                return 0L;
            }

            ConnectionFactory.Execute(connection, $"PRAGMA incremental_vacuum({pages})");
            return before - ConnectionFactory.Scalar<long>(connection, "PRAGMA freelist_count");
        }, cancellationToken);

    private void StartScheduledMaintenance()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        _ = RunMaintenanceAsync().ContinueWith(
            static (task, state) =>
            {
                var database = (WaldenDatabase)state!;
                if (task.Exception?.GetBaseException() is { } error and not WaldenClosedException)
                {
                    LogMessages.MaintenanceFailed(database._logger, database.Name, error);
                }
            },
            this, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }
}
