using System.CommandLine;
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using Walden.Backup;
using Walden.Cli.Output;
using Walden.Configuration;

namespace Walden.Cli.Commands;

/// <summary>
/// <c>walden backup-bench</c> (hidden): fills a database of the given size, then keeps producers writing
/// through Walden while a backup runs, and reports the backup's throughput and the writers' pauses
/// during the backup against a baseline measured just before it in the same run.
/// </summary>
internal static class BackupBenchCommand
{
    private const int BlobBytes = 64 * 1024;

    internal static Command Create()
    {
        var sizeGb = new Option<double>("--size-gb") { Description = "Size of the database to back up, in GB (1e9 bytes).", DefaultValueFactory = _ => 1 };
        var dir = new Option<DirectoryInfo?>("--dir") { Description = "Where to put the database and the backup (default: a new temporary folder). Removed afterwards unless --keep." };
        var producers = new Option<int>("--producers") { Description = "Concurrent producers writing during the run.", DefaultValueFactory = _ => 16 };
        var baseline = new Option<double>("--baseline-seconds") { Description = "How long to measure the producers before the backup starts.", DefaultValueFactory = _ => 5 };
        var pagesPerStep = new Option<int>("--pages-per-step") { Description = "Pages copied per backup step.", DefaultValueFactory = _ => new WaldenBackupOptions().PagesPerStep };
        var vacuum = new Option<bool>("--vacuum") { Description = "Back up with VACUUM INTO." };
        var maxMbps = new Option<double?>("--max-mb-per-second") { Description = "Rate limit of the copy (WaldenBackupOptions.MaxBytesPerSecond), in MB/s." };
        var compress = new Option<bool>("--compress") { Description = "Store the backup gzip-compressed." };
        var keep = new Option<bool>("--keep") { Description = "Keep the database and backup files." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var command = new Command("backup-bench", "Measure backup throughput and writer pauses on a large database with producers writing.")
        {
            sizeGb, dir, producers, baseline, pagesPerStep, vacuum, maxMbps, compress, keep, json,
        };
        command.Hidden = true;
        command.SetAction((r, ct) => RunAsync(r.GetValue(sizeGb), r.GetValue(dir), r.GetValue(producers), r.GetValue(baseline), r.GetValue(pagesPerStep),
            r.GetValue(vacuum), r.GetValue(maxMbps), r.GetValue(compress), r.GetValue(keep), r.GetValue(json), ct));
        return command;
    }

    private static async Task<int> RunAsync(double sizeGb, DirectoryInfo? dir, int producers, double baselineSeconds, int pagesPerStep,
        bool vacuum, double? maxMbps, bool compress, bool keep, bool json, CancellationToken cancellationToken)
    {
        if (sizeGb is <= 0 or > 1000 || producers is < 1 or > 10_000 || baselineSeconds <= 0)
        {
            return CliErrors.Report("--size-gb must be between 0 and 1000, --producers 1 to 10,000 and --baseline-seconds greater than 0.");
        }

        var folder = dir?.FullName ?? Directory.CreateTempSubdirectory("walden-backup-bench-").FullName;
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "bench.db");
        var backups = Path.Combine(folder, "backups");
        try
        {
            var fill = Stopwatch.StartNew();
            Fill(path, (long)(sizeGb * 1e9), json);
            var fillSeconds = fill.Elapsed.TotalSeconds;

            await using var db = await WaldenDatabase.OpenAsync(path, cancellationToken: cancellationToken).ConfigureAwait(false);
            var acks = new List<(long Start, long End)>[producers];
            using var stop = new CancellationTokenSource();
            var body = new string('x', 200);
            var tasks = Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
            {
                var mine = acks[p] = new List<(long, long)>(1 << 16);
                for (var seq = 0; !stop.IsCancellationRequested; seq++)
                {
                    var started = Stopwatch.GetTimestamp();
                    var n = seq;
                    await db.WriteAsync(c =>
                    {
                        var insert = c.GetCachedCommand("INSERT INTO bench_log(producer, seq, body) VALUES ($p, $s, $b)");
                        insert.Parameters.AddWithValue("$p", p);
                        insert.Parameters.AddWithValue("$s", n);
                        insert.Parameters.AddWithValue("$b", body);
                        return insert.ExecuteNonQuery();
                    }).ConfigureAwait(false);
                    mine.Add((started, Stopwatch.GetTimestamp()));
                }
            })).ToArray();

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false); // warm-up, not measured
            var baselineStart = Stopwatch.GetTimestamp();
            await Task.Delay(TimeSpan.FromSeconds(baselineSeconds), cancellationToken).ConfigureAwait(false);
            var backupStart = Stopwatch.GetTimestamp();
            var backup = await db.BackupAsync(backups, new WaldenBackupOptions
            {
                PagesPerStep = pagesPerStep,
                Vacuum = vacuum,
                MaxBytesPerSecond = maxMbps is { } mbps ? (long)(mbps * 1e6) : null,
                Compression = compress ? WaldenBackupCompression.GZip : WaldenBackupCompression.None,
            }, cancellationToken).ConfigureAwait(false);
            var backupEnd = Stopwatch.GetTimestamp();
            var copyEnd = backupStart + (long)(backup.CopyDuration.TotalSeconds * Stopwatch.Frequency);
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(tasks).ConfigureAwait(false);

            var all = acks.SelectMany(a => a).ToList();
            var result = new BenchResult(
                path,
                new FileInfo(path).Length,
                fillSeconds,
                producers,
                backup.Method,
                backup.Compression.ToString().ToLowerInvariant(),
                pagesPerStep,
                maxMbps,
                backup.DatabaseBytes,
                backup.StoredBytes,
                backup.CopyDuration.TotalSeconds,
                backup.DatabaseBytes / 1e6 / backup.CopyDuration.TotalSeconds,
                backup.VerifyDuration.TotalSeconds,
                backup.DatabaseBytes / 1e6 / (backup.CopyDuration + backup.VerifyDuration).TotalSeconds,
                backup.Restarts,
                Window(all, baselineStart, backupStart),
                Window(all, backupStart, copyEnd),
                Window(all, backupStart, backupEnd));
            if (json)
            {
                Json.Write(result);
            }
            else
            {
                Print(result);
            }

            return ExitCodes.Ok;
        }
        catch (WaldenException ex)
        {
            return CliErrors.Report(ex.Message, ExitCodes.Failed);
        }
        finally
        {
            if (!keep)
            {
                SqliteConnection.ClearAllPools();
                Directory.Delete(folder, recursive: true); // our own benchmark files, closed by now
            }
        }
    }

    /// <summary>Fills the database fast: big transactions of 64 KiB random blobs, synchronous OFF for the fill only.</summary>
    private static void Fill(string path, long bytes, bool quiet)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        ConnectionFactory.Execute(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;");
        ConnectionFactory.Execute(connection, "CREATE TABLE IF NOT EXISTS bench_blob(id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
        ConnectionFactory.Execute(connection, "CREATE TABLE IF NOT EXISTS bench_log(id INTEGER PRIMARY KEY, producer INTEGER NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL)");
        var rows = bytes / BlobBytes;
        const int RowsPerTransaction = 1024; // 64 MiB per commit
        for (long done = 0; done < rows; done += RowsPerTransaction)
        {
            var count = Math.Min(RowsPerTransaction, rows - done);
            ConnectionFactory.Execute(connection, $"BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) " +
                $"INSERT INTO bench_blob(body) SELECT randomblob({BlobBytes}) FROM n; COMMIT;");
            if (!quiet && done % (RowsPerTransaction * 4) == 0)
            {
                Console.Error.Write($"\rfilling: {done * BlobBytes / 1e9:N2} of {bytes / 1e9:N2} GB");
            }
        }

        // The checkpoint at synchronous FULL fsyncs the database file: the fill's writeback does not land in the baseline.
        ConnectionFactory.Execute(connection, "PRAGMA synchronous=FULL; PRAGMA wal_checkpoint(TRUNCATE);");

        if (!quiet)
        {
            Console.Error.WriteLine();
        }
    }

    /// <summary>The writes acknowledged in a window: their latencies, and the longest time no write at all was acknowledged.</summary>
    private static WindowStats Window(List<(long Start, long End)> acks, long from, long to)
    {
        var inWindow = acks.Where(a => a.End >= from && a.End <= to).ToList();
        var latencies = inWindow.Select(a => (a.End - a.Start) * 1000.0 / Stopwatch.Frequency).Order().ToArray();
        var ends = inWindow.Select(a => a.End).Append(from).Append(to).Order().ToArray();
        var maxGap = 0.0;
        for (var i = 1; i < ends.Length; i++)
        {
            maxGap = Math.Max(maxGap, (ends[i] - ends[i - 1]) * 1000.0 / Stopwatch.Frequency);
        }

        var seconds = (to - from) / (double)Stopwatch.Frequency;
        return new WindowStats(seconds, latencies.Length, latencies.Length / seconds,
            Percentile.Of(latencies, 0.50), Percentile.Of(latencies, 0.99), latencies.Length > 0 ? latencies[^1] : 0, maxGap);
    }

    private static void Print(BenchResult r)
    {
        Console.Out.WriteLine($"database {r.DatabaseBytes / 1e9:N2} GB (filled in {r.FillSeconds:N1} s); backup {r.Method}, {r.Compression}, {r.PagesPerStep} pages/step, rate limit {(r.MaxMegabytesPerSecond is { } m ? $"{m:N0} MB/s" : "none")}, {r.Restarts} restarts, {r.Producers} producers");
        Console.Out.WriteLine($"copy {r.CopySeconds:N2} s = {r.CopyMegabytesPerSecond:N0} MB/s; verification {r.VerifySeconds:N2} s; end to end {r.TotalMegabytesPerSecond:N0} MB/s; stored {r.StoredBytes / 1e9:N2} GB");
        void Line(string name, WindowStats w) => Console.Out.WriteLine(
            $"  {name,-28} {w.Seconds,6:N1} s {w.Writes,9:N0} writes {w.WritesPerSecond,8:N0}/s  ack p50 {w.P50Ms,7:N2} ms  p99 {w.P99Ms,7:N2} ms  " +
            $"max {w.MaxMs,7:N1} ms  longest gap without any ack {w.MaxGapMs,7:N1} ms");
        Line("before (baseline)", r.Before);
        Line("during the copy", r.DuringCopy);
        Line("during copy + verification", r.DuringBackup);
    }

    private sealed record WindowStats(double Seconds, int Writes, double WritesPerSecond, double P50Ms, double P99Ms, double MaxMs, double MaxGapMs);

    private sealed record BenchResult(string Path, long DatabaseBytes, double FillSeconds, int Producers, string Method, string Compression, int PagesPerStep, double? MaxMegabytesPerSecond,
        long BackupDatabaseBytes, long StoredBytes, double CopySeconds, double CopyMegabytesPerSecond, double VerifySeconds, double TotalMegabytesPerSecond,
        int Restarts, WindowStats Before, WindowStats DuringCopy, WindowStats DuringBackup);
}
