using System.Diagnostics;

namespace Walden.Cli.Bench;

/// <summary>
/// The ceiling: one thread, one connection, one prepared insert, <see cref="BenchConfig.LimitTransactionRows"/>
/// rows per transaction, synchronous FULL, WAL. A row counts as acknowledged when its transaction commits,
/// which is also what its latency measures. With <c>rowsPerTransaction</c> = N the same loop is the batch
/// ceiling for N producers that each await a durable acknowledgement: a commit can then carry at most N rows,
/// and nothing runs beside SQLite (no queue, no thread hand-off, no other writer). With <c>secondFile</c> each commit is
/// followed by an append of its rows to a second file on the same disk and that file's <c>fdatasync</c>
/// (<see cref="ScenarioKind.BatchCeilingSecondFile"/>): the least a synchronous archive adds to each commit.
/// </summary>
internal static class LimitScenario
{
    internal static ScenarioResult Run(BenchConfig config, Workload workload, string path, int producersInGroup, int? rowsPerTransaction = null,
        bool secondFile = false)
    {
        PlainSqlite.Create(path);
        var budget = Budget.Total(config, producersInGroup);
        var latencies = new LatencyHistogram();
        var stamps = new long[rowsPerTransaction ?? config.LimitTransactionRows];
        long rows = 0;
        Measurement? measurement = null;
        using (var connection = PlainSqlite.Open(path, "FULL"))
        using (var insert = Workload.PrepareInsert(connection))
        using (var begin = PlainSqlite.Prepare(connection, "BEGIN IMMEDIATE"))
        using (var commit = PlainSqlite.Prepare(connection, "COMMIT"))
        using (var second = secondFile ? new SecondDurableFile(path + "-second") : null)
        {
            ProducerThreads.Run(1, _ =>
            {
                do
                {
                    begin.ExecuteNonQuery();
                    var inTransaction = 0;
                    do
                    {
                        Workload.Bind(insert, workload.SequentialRow(rows + inTransaction));
                        stamps[inTransaction] = Stopwatch.GetTimestamp();
                        insert.ExecuteNonQuery();
                        inTransaction++;
                    }
                    while (inTransaction < stamps.Length && !budget.IsDone(rows + inTransaction));

                    commit.ExecuteNonQuery();
                    second?.Append(workload, rows, inTransaction);
                    var committed = Stopwatch.GetTimestamp();
                    for (var i = 0; i < inTransaction; i++)
                    {
                        latencies.RecordTicks(committed - stamps[i]);
                    }

                    rows += inTransaction;
                }
                while (!budget.IsDone(rows));
            }, () => measurement = Measurement.Start(path, budget));
            measurement!.Stop();
        }

        var kind = rowsPerTransaction is null ? ScenarioKind.Limit : secondFile ? ScenarioKind.BatchCeilingSecondFile : ScenarioKind.BatchCeiling;
        var result = measurement.Result(kind, producersInGroup, 1, "full", rows, PlainSqlite.CountRows(path), 0, latencies, durableAtAck: true);
        PlainSqlite.Delete(path);
        return result;
    }
}
