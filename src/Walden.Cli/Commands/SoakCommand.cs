using System.CommandLine;
using System.Diagnostics;
using Spectre.Console;
using Walden.Cli.Output;
using Walden.Configuration;

namespace Walden.Cli.Commands;

/// <summary>
/// <c>walden soak</c>: the long run behind the bounded-WAL promise. Producers write at the maximum rate and
/// readers read without pause, for minutes; a sampler reads the <c>-wal</c> file size from metadata every
/// 10 ms and the peak is reported beside the limit. Old rows are pruned as it goes, so the database stays small.
/// </summary>
internal static class SoakCommand
{
    private const string Schema =
        "CREATE TABLE IF NOT EXISTS soak_log(id INTEGER PRIMARY KEY, producer INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL, body TEXT NOT NULL)";

    internal static Command Create()
    {
        var db = new Option<FileInfo?>("--db") { Description = "Database file (created if missing). Default: a new file in a temporary folder, removed afterwards." }.RefusingCompanions(creates: true);
        var minutes = new Option<double>("--minutes") { Description = "How long to run.", DefaultValueFactory = _ => 10 };
        var producers = new Option<int>("--producers") { Description = "Concurrent writers.", DefaultValueFactory = _ => 64 };
        var readers = new Option<int>("--readers") { Description = "Concurrent readers (and reader connections).", DefaultValueFactory = _ => 8 };
        var walLimit = new Option<double>("--wal-limit-mib") { Description = "WaldenOptions.WalSizeLimit in MiB.", DefaultValueFactory = _ => 64 };
        var keepRows = new Option<int>("--keep-rows") { Description = "Rows kept; older ones are deleted once a second.", DefaultValueFactory = _ => 500_000 };
        var durability = new Option<WaldenDurability>("--durability") { Description = "full or normal.", DefaultValueFactory = _ => WaldenDurability.Full };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var command = new Command("soak", "Write at the maximum rate with concurrent readers for minutes and report the peak -wal size against the WAL limit.")
        {
            db, minutes, producers, readers, walLimit, keepRows, durability, json,
        };
        command.SetAction((result, cancellationToken) => RunAsync(
            result.GetValue(db), result.GetValue(minutes), result.GetValue(producers), result.GetValue(readers),
            result.GetValue(walLimit), result.GetValue(keepRows), result.GetValue(durability), result.GetValue(json), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo? db, double minutes, int producers, int readers, double walLimitMib, int keepRows,
        WaldenDurability durability, bool json, CancellationToken cancellationToken)
    {
        if (minutes <= 0 || producers is < 1 or > 10_000 || readers is < 1 or > 256 || walLimitMib < 1 || keepRows < 1)
        {
            return CliErrors.Report("--minutes must be greater than 0, --producers 1 to 10,000, --readers 1 to 256, --wal-limit-mib at least 1 and --keep-rows at least 1.");
        }

        var tempFolder = db is null ? Directory.CreateTempSubdirectory("walden-soak-") : null;
        var path = db?.FullName ?? Path.Combine(tempFolder!.FullName, "soak.db");
        var options = new WaldenOptions
        {
            Durability = durability,
            ReaderPoolSize = readers,
            WalSizeLimit = (long)(walLimitMib * 1024 * 1024),
        };
        WaldenDatabase opened;
        try
        {
            opened = await WaldenDatabase.OpenAsync(path, options, cancellationToken).ConfigureAwait(false);
        }
        catch (WaldenException ex)
        {
            // --db cannot be used (no folder, not a database, read-only, in use, an app's collation): the run never started.
            tempFolder?.Delete(recursive: true);
            return CliErrors.Report(CliErrors.ForTheTool(ex, path));
        }

        try
        {
            await using var database = opened;
            await database.WriteAsync(c => ConnectionFactory.Execute(c, Schema), cancellationToken).ConfigureAwait(false);

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            stop.CancelAfter(TimeSpan.FromMinutes(minutes));
            var walPath = path + "-wal";
            long peakWal = 0, writes = 0, reads = 0, samples = 0, samplesOverLimit = 0;
            var clock = Stopwatch.StartNew();

            var sampler = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var size = Files.DatabaseFiles.SizeOf(walPath) ?? 0;
                    peakWal = Math.Max(peakWal, size);
                    samples++;
                    samplesOverLimit += size > options.WalSizeLimit ? 1 : 0;
                    await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
                }
            }, CancellationToken.None);

            var body = new string('x', 200);
            var writers = Enumerable.Range(0, producers).Select(p => Task.Run(() => StopOnFailure(stop, async () =>
            {
                for (var seq = 0; !stop.IsCancellationRequested; seq++)
                {
                    var n = seq;
                    await database.WriteAsync(c =>
                    {
                        var insert = c.GetCachedCommand("INSERT INTO soak_log(producer, seq, ts, body) VALUES ($p, $s, $ts, $body)");
                        insert.Parameters.AddWithValue("$p", p);
                        insert.Parameters.AddWithValue("$s", n);
                        insert.Parameters.AddWithValue("$ts", Stopwatch.GetTimestamp());
                        insert.Parameters.AddWithValue("$body", body);
                        return insert.ExecuteNonQuery();
                    }, CancellationToken.None).ConfigureAwait(false);
                    Interlocked.Increment(ref writes);
                }
            }), CancellationToken.None)).ToArray();

            var readerTasks = Enumerable.Range(0, readers).Select(r => Task.Run(() => StopOnFailure(stop, async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    await database.ReadAsync(c =>
                    {
                        var recent = c.GetCachedCommand("SELECT count(*), sum(length(body)) FROM (SELECT body FROM soak_log ORDER BY id DESC LIMIT 500)");
                        using var result = recent.ExecuteReader();
                        return result.Read();
                    }, CancellationToken.None).ConfigureAwait(false);
                    Interlocked.Increment(ref reads);
                }
            }), CancellationToken.None)).ToArray();

            var pruner = Task.Run(() => StopOnFailure(stop, async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    await Task.Delay(1000, CancellationToken.None).ConfigureAwait(false);
                    await database.WriteAsync(c => ConnectionFactory.Execute(c, $"DELETE FROM soak_log WHERE id <= (SELECT max(id) FROM soak_log) - {keepRows}"), CancellationToken.None).ConfigureAwait(false);
                }
            }), CancellationToken.None);

            try
            {
                await Task.WhenAll(writers.Concat(readerTasks).Append(pruner).Append(sampler)).ConfigureAwait(false);
            }
            catch (WaldenException ex)
            {
                // A write or read failed (each failure ends the run at once): what was done before it is reported with the error
                // (with --json in the one document), and a lock held by another process is "could not run", as in every other command.
                var ran = clock.Elapsed.TotalSeconds;
                var exitCode = ex is WaldenBusyException ? ExitCodes.CannotRun : ExitCodes.Failed;
                var partial = new SoakReport(path, minutes, producers, readers, durability, options.WalSizeLimit, peakWal,
                    Math.Round((double)peakWal / options.WalSizeLimit, 3), samples, samplesOverLimit, Files.DatabaseFiles.SizeOf(walPath) ?? 0,
                    0, writes, Math.Round(writes / ran), reads, Math.Round(reads / ran), 0, 0, 0, 0, null, null,
                    Files.DatabaseFiles.SizeOf(path) ?? 0, Math.Round(ran, 1)) { ExitCode = exitCode };
                if (!json)
                {
                    AnsiConsole.MarkupLine(Markup.Escape($"stopped after {ran:N1} s: {writes:N0} writes, {reads:N0} reads, peak -wal {InfoCommand.Size(peakWal)}."));
                }

                var message = ex is WaldenBusyException ? Files.OpenErrors.NameHolder(ex, path).Message : ex.Message;
                return CliErrors.Report(message, exitCode, line => partial with { Error = line });
            }

            var elapsed = clock.Elapsed.TotalSeconds;
            var stats = await database.GetStatsAsync(CancellationToken.None).ConfigureAwait(false);

            // After the load, the idle TRUNCATE should leave an empty -wal file within the idle delay.
            var idleDeadline = Stopwatch.StartNew();
            while (new FileInfo(walPath) is { Exists: true, Length: > 0 } && idleDeadline.Elapsed < options.CheckpointIdleDelay + TimeSpan.FromSeconds(10))
            {
                await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
            }

            var walAfterIdle = Files.DatabaseFiles.SizeOf(walPath) ?? 0;
            var report = new SoakReport(path, minutes, producers, readers, durability, options.WalSizeLimit, peakWal,
                Math.Round((double)peakWal / options.WalSizeLimit, 3), samples, samplesOverLimit, walAfterIdle,
                Math.Round(idleDeadline.Elapsed.TotalSeconds, 2), writes, Math.Round(writes / elapsed), reads, Math.Round(reads / elapsed),
                stats.Commits, stats.Checkpoints, stats.CheckpointStarvations, stats.BusyRetries,
                stats.AckLatencyP50?.TotalMilliseconds, stats.AckLatencyP99?.TotalMilliseconds, stats.DatabaseFileBytes, Math.Round(elapsed, 1));
            if (json)
            {
                Json.Write(report);
            }
            else
            {
                AnsiConsole.MarkupLine(
                    $"soak {report.Seconds:N0} s, {producers} producers, {readers} readers, durability {durability}: " +
                    $"[bold]peak -wal {InfoCommand.Size(peakWal)}[/] against a limit of {InfoCommand.Size(options.WalSizeLimit)} ({report.PeakToLimit:P1}), " +
                    $"{samplesOverLimit:N0} of {samples:N0} samples over the limit; -wal after idle {InfoCommand.Size(walAfterIdle)}. " +
                    $"{writes:N0} writes ({report.WritesPerSecond:N0}/s), {reads:N0} reads ({report.ReadsPerSecond:N0}/s), " +
                    $"{stats.Checkpoints:N0} checkpoints, {stats.CheckpointStarvations} starvations, ack p50 {report.AckP50Ms:N2} ms, p99 {report.AckP99Ms:N2} ms.");
            }

            return peakWal <= options.WalSizeLimit ? ExitCodes.Ok : ExitCodes.Failed;
        }
        catch (WaldenException ex) when (ex is WaldenBusyException)
        {
            return CliErrors.Report(Files.OpenErrors.NameHolder(ex, path).Message, ExitCodes.CannotRun); // before the first write
        }
        catch (WaldenException ex)
        {
            return CliErrors.Report(ex.Message, ExitCodes.Failed);
        }
        finally
        {
            tempFolder?.Delete(recursive: true);
        }
    }

    /// <summary>Runs <paramref name="loop"/>; when it fails, the whole run stops (the other loops would go on for minutes).</summary>
    private static async Task StopOnFailure(CancellationTokenSource stop, Func<Task> loop)
    {
        try
        {
            await loop().ConfigureAwait(false);
        }
        catch
        {
            await stop.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    private sealed record SoakReport(string Path, double Minutes, int Producers, int Readers, WaldenDurability Durability,
        long WalSizeLimitBytes, long PeakWalBytes, double PeakToLimit, long WalSamples, long WalSamplesOverLimit, long WalBytesAfterIdle,
        double IdleWaitSeconds, long Writes, double WritesPerSecond, long Reads, double ReadsPerSecond, long Commits, long Checkpoints,
        long CheckpointStarvations, long BusyRetries, double? AckP50Ms, double? AckP99Ms, long DatabaseFileBytes, double Seconds)
    {
        /// <summary>Why the run stopped early, as on stderr; null when it did not.</summary>
        public string? Error { get; init; }

        /// <summary>The exit code: 0, 1 when the -wal outgrew its limit or a write failed, 2 when another process held the lock.</summary>
        public int ExitCode { get; init; }
    }
}
