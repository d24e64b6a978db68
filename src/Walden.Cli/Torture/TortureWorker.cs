using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;

namespace Walden.Cli.Torture;

/// <summary>
/// One torture worker process (<c>walden torture-worker</c>): many producers append records through one
/// <see cref="WaldenDatabase"/> and print each acknowledged sequence number as soon as its WriteAsync
/// completed. Runs until stdin closes (a clean stop) or the supervisor kills it.
/// </summary>
internal sealed class TortureWorker
{
    private readonly string _path;
    private readonly long _worker;
    private readonly int _producers;
    private readonly WorkerRole _role;
    private readonly WaldenDurability _durability;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly string? _archive;
    private readonly WaldenArchiveMode _archiveMode;
    private long _nextSeq = -1;

    internal TortureWorker(string path, long worker, int producers, WorkerRole role, WaldenDurability durability)
        : this(path, worker, producers, role, durability, null, WaldenArchiveMode.Async)
    {
    }

    internal TortureWorker(string path, long worker, int producers, WorkerRole role, WaldenDurability durability, string? archive, WaldenArchiveMode archiveMode)
    {
        _archive = archive;
        _archiveMode = archiveMode;
        _path = path;
        _worker = worker;
        _producers = producers;
        _role = role;
        _durability = durability;
    }

    internal async Task<int> RunAsync()
    {
        var pump = Task.Run(PumpLinesAsync);
        try
        {
            // The long busy timeout keeps writers patient while a TRUNCATE checkpoint or another process holds the lock.
            var options = new WaldenOptions
            {
                Durability = _durability,
                BusyTimeout = TimeSpan.FromSeconds(30), // below the supervisor's one-minute stop limit
                Name = $"torture-{_worker}",
            };
            if (_archive is not null)
            {
                options.Archive.AddFolder(_archive).Mode = _archiveMode;
                // The default drill interval, as users run it: no drill comes due within a run (none is recorded, so the first
                // is an interval after the open; the supervisor restores after every kill instead), and the open reads the
                // base whole only when it was not known whole within the interval (BasesChecked), as by default.
            }

            var database = await WaldenDatabase.OpenAsync(_path, options).ConfigureAwait(false);
            await using (database.ConfigureAwait(false))
            {
                Line(WorkerProtocol.Ready);
                // Both block a thread for their whole life: give them their own, so the few pool threads of a
                // small machine stay free for the producers (a blocked pool starved this process's writes).
                StartThread(WaitForStop, "torture-stdin");
                var work = Enumerable.Range(0, _producers).Select(p => Task.Run(() => ProduceAsync(database, p))).ToList();
                work.Add(_role switch
                {
                    WorkerRole.Reader => Task.Run(() => ReadAsync(database)),
                    WorkerRole.Checkpointer => Task.Factory.StartNew(Checkpoint, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default),
                    _ => Task.CompletedTask,
                });
                await Task.WhenAll(work).ConfigureAwait(false);
            }

            Line(WorkerProtocol.Done);
            return 0;
        }
        catch (Exception ex) when (ex is WaldenException or SqliteException)
        {
            Line(WorkerProtocol.ErrorPrefix + OneLine(ex));
            return 1;
        }
        finally
        {
            _lines.Writer.TryComplete();
            await pump.ConfigureAwait(false);
        }
    }

    private void WaitForStop()
    {
        // The supervisor asks for a clean stop by closing stdin.
        using var stdin = Console.OpenStandardInput();
        var buffer = new byte[64];
        while (stdin.Read(buffer) > 0)
        {
        }

        _stop.Cancel();
    }

    private static void StartThread(Action action, string name) =>
        new Thread(() => action()) { IsBackground = true, Name = name }.Start();

    private async Task ProduceAsync(WaldenDatabase database, int producer)
    {
        var random = new Random(HashCode.Combine(_worker, producer));
        while (!_stop.IsCancellationRequested)
        {
            var seq = Interlocked.Increment(ref _nextSeq);
            var payload = TortureRecord.NewPayload(random);
            var checksum = TortureRecord.Checksum(_worker, seq, payload);
            try
            {
                // No cancellation token: once accepted, a write must reach its outcome and be reported.
                await database.WriteAsync(c =>
                {
                    var insert = c.GetCachedCommand(TortureRecord.Insert);
                    insert.Parameters.AddWithValue("$worker", _worker);
                    insert.Parameters.AddWithValue("$seq", seq);
                    insert.Parameters.AddWithValue("$payload", payload);
                    insert.Parameters.AddWithValue("$checksum", checksum);
                    return insert.ExecuteNonQuery();
                }).ConfigureAwait(false);
            }
            catch (WaldenCorruptException ex)
            {
                Line(WorkerProtocol.CorruptPrefix + OneLine(ex));
                return;
            }
            catch (WaldenException ex)
            {
                Line(WorkerProtocol.ErrorPrefix + OneLine(ex));
                continue;
            }

            Line(WorkerProtocol.AckPrefix + seq.ToString(CultureInfo.InvariantCulture));
        }
    }

    private async Task ReadAsync(WaldenDatabase database)
    {
        var random = new Random(HashCode.Combine(_worker, "reader"));
        long reads = 0;
        while (!_stop.IsCancellationRequested)
        {
            var recent = reads % 2 == 0;
            var pick = random.NextDouble();
            try
            {
                var bad = await database.ReadAsync(c => CheckRows(c, recent, pick)).ConfigureAwait(false);
                if (bad is not null)
                {
                    Line(WorkerProtocol.CorruptPrefix + bad);
                }
            }
            catch (WaldenCorruptException ex)
            {
                Line(WorkerProtocol.CorruptPrefix + OneLine(ex));
            }
            catch (WaldenException ex)
            {
                Line(WorkerProtocol.ErrorPrefix + OneLine(ex));
            }

            if (++reads % 10 == 0)
            {
                Line(WorkerProtocol.ReadsPrefix + reads.ToString(CultureInfo.InvariantCulture));
            }

            // Leave the CPU to the writers between reads: the machine has few cores.
            await Task.Delay(2).ConfigureAwait(false);
        }
    }

    /// <summary>Reads the newest rows or a random range of 200 rows in one snapshot; returns a description of the first bad row.</summary>
    private static string? CheckRows(SqliteConnection connection, bool recent, double pick)
    {
        using var command = connection.CreateCommand();
        command.CommandText = recent
            ? "SELECT worker, seq, payload, checksum, id FROM torture_record WHERE id > (SELECT coalesce(max(id), 0) - 200 FROM torture_record)"
            : "SELECT worker, seq, payload, checksum, id FROM torture_record WHERE id >= " +
              "(SELECT coalesce(min(id), 0) + CAST((coalesce(max(id), 0) - coalesce(min(id), 0)) * $pick AS INTEGER) FROM torture_record) LIMIT 200";
        command.Parameters.AddWithValue("$pick", pick);
        using var row = command.ExecuteReader();
        while (row.Read())
        {
            if (!TortureRecord.IsValid(row))
            {
                return $"read a record with a bad checksum: id {row.GetInt64(4)}, worker {row.GetInt64(0)}, seq {row.GetInt64(1)}";
            }
        }

        return null;
    }

    private void Checkpoint()
    {
        using var connection = TortureRecord.OpenPlain(_path, busyTimeoutMs: 5_000);
        var round = 0;
        while (!_stop.IsCancellationRequested)
        {
            var mode = ++round % 4 == 0 ? "TRUNCATE" : "PASSIVE";
            try
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"PRAGMA wal_checkpoint({mode})";
                using var row = command.ExecuteReader();
                row.Read();
                Line(string.Create(CultureInfo.InvariantCulture,
                    $"{WorkerProtocol.CheckpointPrefix}{mode} {row.GetInt64(0)} {row.GetInt64(1)} {row.GetInt64(2)}"));
            }
            catch (SqliteException ex) when ((ex.SqliteErrorCode & 0xFF) is 11 or 26)
            {
                Line(WorkerProtocol.CorruptPrefix + OneLine(ex));
                return;
            }
            catch (SqliteException ex)
            {
                Line(WorkerProtocol.ErrorPrefix + OneLine(ex));
            }

            // The Fusion daemon checkpointed on a timer beside the extension's writes; here every ~100 ms.
            _stop.Token.WaitHandle.WaitOne(100);
        }
    }

    private void Line(string line) => _lines.Writer.TryWrite(line);

    /// <summary>One task owns stdout: it writes what is queued and flushes whenever the queue runs dry, so an ack leaves at once.</summary>
    private async Task PumpLinesAsync()
    {
        var stdout = Console.OpenStandardOutput();
        await using (stdout.ConfigureAwait(false))
        {
            var writer = new StreamWriter(stdout, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 1 << 16) { AutoFlush = false, NewLine = "\n" };
            await using (writer.ConfigureAwait(false))
            {
                var reader = _lines.Reader;
                while (await reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    while (reader.TryRead(out var line))
                    {
                        await writer.WriteLineAsync(line).ConfigureAwait(false);
                    }

                    await writer.FlushAsync().ConfigureAwait(false);
                }
            }
        }
    }

    private static string OneLine(Exception ex) => $"{ex.GetType().Name}: {ex.Message}".ReplaceLineEndings(" ");
}
