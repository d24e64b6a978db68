using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Walden.Cli.Output;
using Walden.Configuration;

namespace Walden.Cli.Commands;

/// <summary>
/// <c>walden demo</c>: many concurrent producers append log rows through one <see cref="WaldenDatabase"/>,
/// each awaiting the acknowledgement of every write as an agent would, and the throughput is printed.
/// With <c>--db</c> and <c>--writes</c> it is also the child process of the cross-process tests.
/// </summary>
internal static class DemoCommand
{
    internal const string Schema =
        "CREATE TABLE IF NOT EXISTS demo_log(id INTEGER PRIMARY KEY, source TEXT NOT NULL, producer INTEGER NOT NULL, " +
        "seq INTEGER NOT NULL, ts INTEGER NOT NULL, body TEXT NOT NULL, UNIQUE(source, producer, seq))";

    internal static Command Create()
    {
        var db = new Option<FileInfo?>("--db") { Description = "Database file to write (created if missing). Default: a new file in a temporary folder, removed afterwards." }.RefusingCompanions(creates: true);
        var producers = new Option<int>("--producers") { Description = "Concurrent producers.", DefaultValueFactory = _ => 64 };
        var seconds = new Option<double>("--seconds") { Description = "How long to write (ignored with --writes).", DefaultValueFactory = _ => 5 };
        var writes = new Option<int?>("--writes") { Description = "Writes per producer; the run ends when all are acknowledged." };
        var source = new Option<string>("--source") { Description = "Tag stored with every row, to tell processes apart.", DefaultValueFactory = _ => "demo" };
        var durability = new Option<WaldenDurability>("--durability") { Description = "full or normal.", DefaultValueFactory = _ => WaldenDurability.Full };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var archive = new Option<string?>("--archive")
        {
            Description = "Archive every commit continuously to this folder (must exist) or s3://bucket/prefix (with --endpoint for an " +
                "S3-compatible server); restore with 'walden restore <archive> <out.db>'.",
        }.IsPath("the archive: its folder or s3://bucket/prefix");
        var location = ArchiveLocation.CreateOptions("With --archive s3://...: ");
        var archiveMode = new Option<WaldenArchiveMode>("--archive-mode") { Description = "sync or async.", DefaultValueFactory = _ => WaldenArchiveMode.Async };
        var command = new Command("demo", "Concurrent producers write through Walden's group commit; prints rows/s and acknowledgement latency.")
        {
            db, producers, seconds, writes, source, durability, json, archive, archiveMode, location.Endpoint, location.Region,
        };
        command.SetAction((result, cancellationToken) => RunAsync(
            result.GetValue(db), result.GetValue(producers), result.GetValue(seconds), result.GetValue(writes),
            result.GetValue(source)!, result.GetValue(durability), result.GetValue(json),
            new DemoArchive(result.GetValue(archive), result.GetValue(archiveMode), result.GetValue(location.Endpoint), result.GetValue(location.Region)),
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo? db, int producers, double seconds, int? writes, string source,
        WaldenDurability durability, bool json, DemoArchive archive, CancellationToken cancellationToken)
    {
        if (producers is < 1 or > 10_000 || seconds <= 0 || writes is < 1)
        {
            return CliErrors.Report("--producers must be 1 to 10,000, --seconds greater than 0 and --writes at least 1.");
        }

        IWaldenArchiveDestination? destination = null;
        if (archive.Location is { } at && (destination = ArchiveLocation.Open(at, archive.Endpoint, archive.Region, out var problem, writing: true)) is null)
        {
            return CliErrors.Report($"--archive: {problem}");
        }

        if (archive.Location is null && (archive.Endpoint is not null || archive.Region is not null))
        {
            return CliErrors.Report("--endpoint and --region go with --archive s3://bucket/prefix.");
        }

        var tempFolder = db is null ? Directory.CreateTempSubdirectory("walden-demo-") : null;
        var path = db?.FullName ?? Path.Combine(tempFolder!.FullName, "demo.db");
        try
        {
            var options = new WaldenOptions { Durability = durability };
            if (destination is not null)
            {
                options.Archive.Mode = archive.Mode;
                options.Archive.Destinations.Add(destination);
            }

            var latencies = new List<double>?[producers];
            var clock = Stopwatch.StartNew();
            WaldenDatabase opened;
            try
            {
                opened = await WaldenDatabase.OpenAsync(path, options, cancellationToken).ConfigureAwait(false);
            }
            catch (WaldenException ex)
            {
                // --db (or --archive) cannot be used: no folder, a folder or not a database, read-only, in use. The run never started.
                return CliErrors.Report(CliErrors.ForTheTool(ex, path));
            }

            await using var database = opened;
            try
            {
                return await RunAsync(database, path, producers, seconds, writes, source, durability, json, archive, destination, latencies,
                    clock, cancellationToken).ConfigureAwait(false);
            }
            catch (WaldenException ex)
            {
                // The run started and a write failed: what was acknowledged before it is reported with the error (with --json in the
                // one document), and a lock held by another process is "could not run", as in every other command.
                var done = latencies.SelectMany(l => l ?? []).Order().ToArray();
                var elapsed = clock.Elapsed.TotalSeconds;
                var partial = new DemoResult(path, source, producers, done.Length, elapsed, done.Length / Math.Max(elapsed, 1e-9),
                    Percentile.Of(done, 0.50), Percentile.Of(done, 0.99), done.Length > 0 ? done[^1] : 0, durability, database.Settings.SqliteVersion);
                var exitCode = ex is WaldenBusyException ? ExitCodes.CannotRun : ExitCodes.Failed;
                var message = ex is WaldenBusyException ? Walden.Files.OpenErrors.NameHolder(ex, path).Message : ex.Message;
                if (!json)
                {
                    AnsiConsole.MarkupLine(Markup.Escape($"stopped after {done.Length:N0} acknowledged writes in {elapsed:N1} s:"));
                }

                return CliErrors.Report(message, exitCode, line => partial with { Error = line, ExitCode = exitCode });
            }
        }
        catch (WaldenException ex)
        {
            return CliErrors.Report(ex.Message, ExitCodes.Failed); // closing the database failed after the run
        }
        finally
        {
            (destination as IDisposable)?.Dispose();
            tempFolder?.Delete(recursive: true);
        }
    }

    private static async Task<int> RunAsync(WaldenDatabase database, string path, int producers, double seconds, int? writes, string source,
        WaldenDurability durability, bool json, DemoArchive archive, IWaldenArchiveDestination? destination, List<double>?[] latencies,
        Stopwatch clock, CancellationToken cancellationToken)
    {
        // A second run on the same --db and --source goes on after the rows of the first (UNIQUE(source, producer, seq)).
        var firstSeq = await database.WriteAsync(c =>
        {
            ConnectionFactory.Execute(c, Schema);
            using var next = c.CreateCommand();
            next.CommandText = "SELECT coalesce(max(seq), -1) + 1 FROM demo_log WHERE source = $source";
            next.Parameters.AddWithValue("$source", source);
            return Convert.ToInt64(next.ExecuteScalar(), CultureInfo.InvariantCulture);
        }, cancellationToken).ConfigureAwait(false);

        var stopAt = writes is null ? Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency) : long.MaxValue;
        clock.Restart(); // what a failure reports is the time the producers wrote
        var tasks = Enumerable.Range(0, producers).Select(p => Task.Run(async () =>
        {
            var mine = latencies[p] = new List<double>(writes ?? 1024);
            var body = new string('x', 200 + (p * 37 % 100));
            for (var seq = 0; writes is null ? Stopwatch.GetTimestamp() < stopAt : seq < writes; seq++)
            {
                var started = Stopwatch.GetTimestamp();
                var n = firstSeq + seq;
                await database.WriteAsync(c =>
                {
                    var insert = c.GetCachedCommand("INSERT INTO demo_log(source, producer, seq, ts, body) VALUES ($source, $producer, $seq, $ts, $body)");
                    insert.Parameters.AddWithValue("$source", source);
                    insert.Parameters.AddWithValue("$producer", p);
                    insert.Parameters.AddWithValue("$seq", n);
                    insert.Parameters.AddWithValue("$ts", started);
                    insert.Parameters.AddWithValue("$body", body);
                    return insert.ExecuteNonQuery();
                }, cancellationToken).ConfigureAwait(false);
                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }, cancellationToken)).ToArray();
        await Task.WhenAll(tasks).ConfigureAwait(false);
        var elapsed = clock.Elapsed.TotalSeconds;

        var all = latencies.SelectMany(l => l!).Order().ToArray();
        long? taken = null, stored = null;
        string? behind = null;
        if (destination is not null)
        {
            // What the archive holds is read back from the destination after the close (which ships what is left), not
            // taken from what the writer captured: a destination that fell behind (full, read-only, gone) must show.
            Walden.Files.TestPause.Hold("demo-before-close");
            var reasons = database.GetHealth().Reasons;
            await database.DisposeAsync().ConfigureAwait(false);
            taken = database.Archiver!.LastTxid;
            string? unreadable = null;
            try
            {
                stored = (await WaldenArchive.GetStatusAsync(destination, cancellationToken).ConfigureAwait(false)).LastTxid;
            }
            catch (Exception ex) when (ex is WaldenArchiveException or IOException)
            {
                unreadable = ex.Message.TrimEnd('.'); // removed or unmounted during the run: the writes are reported all the same
            }

            if (stored is null || stored < taken)
            {
                var holds = unreadable is null
                    ? $"holds transactions through {stored?.ToString(CultureInfo.InvariantCulture) ?? "none"}"
                    : $"cannot be read after the run ({unreadable}), so it holds none";
                behind = $"the archive in {destination.Name} {holds} of the {taken} taken: the destination fell behind" +
                    $"{(reasons.Count > 0 ? $" ({string.Join("; ", reasons.Select(r => r.TrimEnd('.')))})" : string.Empty)}. " +
                    "Make it writable again (mounted, space, permissions) and reopen the database: archiving resumes with a new base snapshot.";
            }
        }

        var result = new DemoResult(path, source, producers, all.Length, elapsed, all.Length / elapsed,
            Percentile.Of(all, 0.50), Percentile.Of(all, 0.99), all.Length > 0 ? all[^1] : 0, durability, database.Settings.SqliteVersion)
        {
            ArchivedThroughTxid = stored,
            TakenTxid = taken,
        };
        if (behind is not null)
        {
            // The run's figures and the archive's shortfall: with --json one document (the figures, error and exitCode).
            if (!json)
            {
                PrintRun(result, producers, durability);
            }

            return CliErrors.Report(behind, ExitCodes.Failed, line => result with { Error = line, ExitCode = ExitCodes.Failed });
        }

        if (json)
        {
            Json.Write(result);
        }
        else
        {
            PrintRun(result, producers, durability);
            if (destination is not null)
            {
                var endpoint = archive.Endpoint is null ? string.Empty : $" --endpoint {archive.Endpoint}";
                AnsiConsole.MarkupLine(Markup.Escape(
                    $"archived ({archive.Mode}) to {destination.Name} through transaction {stored}; " +
                    $"restore with: walden restore {archive.Display}{endpoint} <out.db> [--at <time> | --txid <n>]"));
            }
        }

        return ExitCodes.Ok;
    }

    private static void PrintRun(DemoResult result, int producers, WaldenDurability durability) => AnsiConsole.MarkupLine(
        $"[green]{result.Rows:N0}[/] writes from {producers} producers in {result.Seconds:N1} s: [bold]{result.RowsPerSecond:N0} rows/s[/], " +
        $"ack latency p50 {result.P50Ms:N2} ms, p99 {result.P99Ms:N2} ms, max {result.MaxMs:N1} ms " +
        $"(durability {durability}, SQLite {result.SqliteVersion}; every write acknowledged only after its commit).");

    /// <summary>Where <c>--archive</c> points, and how to reach it.</summary>
    private sealed record DemoArchive(string? Location, WaldenArchiveMode Mode, string? Endpoint, string? Region)
    {
        internal string Display => Location is null || ArchiveLocation.IsS3(Location) ? Location ?? string.Empty : Path.GetFullPath(Location);
    }

    private sealed record DemoResult(string Path, string Source, int Producers, int Rows, double Seconds, double RowsPerSecond,
        double P50Ms, double P99Ms, double MaxMs, WaldenDurability Durability, string SqliteVersion)
    {
        /// <summary>With --archive: the last transaction the destination holds after the close (read back from it).</summary>
        public long? ArchivedThroughTxid { get; init; }

        /// <summary>With --archive: the last transaction the archive took from the writer.</summary>
        public long? TakenTxid { get; init; }

        /// <summary>Why the run failed (the archive fell behind), as on stderr; null when it did not.</summary>
        public string? Error { get; init; }

        /// <summary>The exit code: 0, or 1 when the archive holds less than the writer took.</summary>
        public int ExitCode { get; init; }
    }
}
