using System.CommandLine;
using Spectre.Console;
using Walden.Cli.Bench;
using Walden.Cli.Output;
using Walden.Files;

namespace Walden.Cli.Commands;

/// <summary>
/// <c>walden bench</c>: Walden beside its baselines (SQLite's own limit on this machine and the two seed
/// patterns of the incident reports), all measured in one run on one disk, as a table or as JSON.
/// </summary>
internal static class BenchCommand
{
    internal static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "A short run (under a minute) for CI: every scenario, 0.5 s each." };
        var dir = new Option<DirectoryInfo?>("--dir") { Description = "Folder for the scenario databases (the disk measured). Default: a new temporary folder, removed afterwards." };
        var seconds = new Option<double?>("--seconds") { Description = "Seconds per scenario (default 5, or 0.5 with --quick)." };
        var producers = new Option<int[]?>("--producers")
        {
            Description = "Producer counts, e.g. --producers 1 8 64 256 (the default).",
            AllowMultipleArgumentsPerToken = true,
        };
        var scenarios = new Option<string[]?>("--scenarios")
        {
            Description = $"Only these scenarios, e.g. --scenarios ceiling full pipelined (default: all: {string.Join(' ', BenchRunner.ScenarioKeys)}). " +
                          "--scenarios processes, on its own, runs the processes comparison instead (1x16 against 1x8, 2x8 and 4x4, 1x32 against 4x8: " +
                          "Walden processes x producers on one file).",
            AllowMultipleArgumentsPerToken = true,
        };
        var json = new Option<bool>("--json") { Description = "Print every figure as JSON on stdout (progress goes to stderr)." };
        var output = new Option<FileInfo?>("--output") { Description = "Also write the JSON report to this file (the table still prints)." };
        var durability = new Option<WaldenDurability>("--durability") { Description = "processes scenario: full or normal.", DefaultValueFactory = _ => WaldenDurability.Full };
        var rounds = new Option<int?>("--rounds")
        {
            Description = "Interleaved rounds, 1 to 100: every write scenario runs this many times, each beside its baselines every time, and the report " +
                          "combines them (rows/s over all rounds) and lists each round's figure beside each target; the disk's fsync time drifts " +
                          "within seconds, and one pass can catch a scenario and its baseline at different moments. Default 2, or 1 with --quick " +
                          "(processes scenario: rounds of every layout, default 1).",
        };
        var uncoordinated = new Option<bool>("--uncoordinated")
        {
            Description = "processes scenario: also run each layout of several processes without Walden's lock file (no write turn, every process " +
                          "checkpoints), as Walden did before, for a before/after comparison in one run.",
        };
        var command = new Command("bench", "Measure Walden beside SQLite's limit and the seed patterns of the incident reports, in one run on one disk.")
        {
            quick, dir, seconds, producers, scenarios, json, output, durability, rounds, uncoordinated,
        };
        command.SetAction((result, cancellationToken) => result.GetValue(scenarios) is [ProcessesScenarioKey]
            ? RunProcessesAsync(result.GetValue(quick), result.GetValue(dir), result.GetValue(seconds), result.GetValue(durability), result.GetValue(rounds) ?? 1,
                result.GetValue(uncoordinated), result.GetValue(json), result.GetValue(output), cancellationToken)
            : RunAsync(result.GetValue(quick), result.GetValue(dir), result.GetValue(seconds), result.GetValue(producers), result.GetValue(scenarios),
                result.GetValue(rounds), result.GetValue(json), result.GetValue(output), cancellationToken));
        return command;
    }

    /// <summary>The hidden <c>bench-worker</c>: one process of the processes scenario (started by it; not for direct use).</summary>
    internal static Command CreateWorker()
    {
        var db = new Option<FileInfo>("--db") { Required = true };
        var producers = new Option<int>("--producers") { DefaultValueFactory = _ => 8 };
        var seconds = new Option<double>("--seconds") { DefaultValueFactory = _ => 5 };
        var durability = new Option<WaldenDurability>("--durability") { DefaultValueFactory = _ => WaldenDurability.Full };
        var writes = new Option<int?>("--writes") { Description = "Writes per producer instead of --seconds." };
        var walSizeLimit = new Option<long?>("--wal-size-limit") { Description = "WaldenOptions.WalSizeLimit in bytes." };
        var command = new Command("bench-worker", "A worker of 'walden bench --scenarios processes' (not for direct use).")
        {
            db, producers, seconds, durability, writes, walSizeLimit,
        };
        command.Hidden = true;
        command.SetAction(result => ProcessWorker.RunAsync(result.GetValue(db)!.FullName, result.GetValue(producers), result.GetValue(seconds),
            result.GetValue(durability), result.GetValue(writes), result.GetValue(walSizeLimit)));
        return command;
    }

    /// <summary>The <c>--scenarios</c> key of the processes comparison, which runs on its own.</summary>
    private const string ProcessesScenarioKey = "processes";

    private static async Task<int> RunProcessesAsync(bool quick, DirectoryInfo? dir, double? seconds, WaldenDurability durability, int rounds,
        bool uncoordinated, bool json, FileInfo? output, CancellationToken cancellationToken)
    {
        if (seconds is { } s && (s <= 0 || s > 600) || rounds is < 1 or > 100)
        {
            return CliErrors.Report($"--seconds must be greater than 0 and at most 600, --rounds 1 to 100 (got {seconds}, {rounds}).");
        }

        if (dir is not null && !dir.Exists)
        {
            return CliErrors.Report(LinkPath.Problem(dir.FullName)
                ?? $"The folder '{dir.FullName}' does not exist. Create it, or leave out --dir to use a temporary folder.");
        }

        var folder = dir is null ? Directory.CreateTempSubdirectory("walden-bench-") : dir.CreateSubdirectory($"walden-bench-{Environment.ProcessId}");
        var console = json ? Terminal.Error() : AnsiConsole.Console;
        if (!console.Profile.Capabilities.Interactive)
        {
            console.Profile.Width = Math.Max(console.Profile.Width, 160);
        }

        try
        {
            var report = await ProcessesScenario.RunAsync(folder.FullName, seconds ?? (quick ? 0.5 : 5), durability, rounds, uncoordinated,
                step => console.MarkupLine($"[grey]{Markup.Escape(step)}[/]"), cancellationToken).ConfigureAwait(false);
            if (output is not null)
            {
                await File.WriteAllTextAsync(output.FullName, System.Text.Json.JsonSerializer.Serialize(report, Json.Options), cancellationToken).ConfigureAwait(false);
            }

            if (json)
            {
                Json.Write(report);
            }
            else
            {
                ProcessesTable.Write(console, report);
            }

            return ExitCodes.Ok;
        }
        catch (Exception ex) when (ex is WaldenException or Microsoft.Data.Sqlite.SqliteException or IOException or InvalidOperationException)
        {
            return CliErrors.Report($"The benchmark stopped: {ex.Message} (folder '{folder.FullName}').", ExitCodes.Failed);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static async Task<int> RunAsync(bool quick, DirectoryInfo? dir, double? seconds, int[]? producers, string[]? scenarios, int? rounds,
        bool json, FileInfo? output, CancellationToken cancellationToken)
    {
        if (scenarios is { Length: > 1 } && scenarios.Contains(ProcessesScenarioKey, StringComparer.Ordinal))
        {
            return CliErrors.Report($"--scenarios {ProcessesScenarioKey} runs on its own (it starts Walden processes of its own); leave out the others.");
        }

        if (scenarios is { Length: > 0 } && scenarios.Except(BenchRunner.ScenarioKeys, StringComparer.Ordinal).ToList() is { Count: > 0 } unknown)
        {
            return CliErrors.Report($"--scenarios does not know {string.Join(", ", unknown)}; choose from {string.Join(' ', BenchRunner.ScenarioKeys)}.");
        }

        if (seconds is { } s && (s <= 0 || s > 600))
        {
            return CliErrors.Report($"--seconds must be greater than 0 and at most 600 (got {s}).");
        }

        if (rounds is < 1 or > 100)
        {
            return CliErrors.Report($"--rounds takes 1 to 100 (got {rounds}).");
        }

        producers = producers is { Length: > 0 } ? producers : null;
        if (producers is { } list && list.Any(n => n is < 1 or > 4096))
        {
            return CliErrors.Report($"--producers takes counts from 1 to 4,096 (got {string.Join(' ', list)}).");
        }

        if (output?.Directory is { Exists: false } outputFolder)
        {
            return CliErrors.Report($"The folder '{outputFolder.FullName}' of --output does not exist. Create it or write the report elsewhere.");
        }

        if (dir is not null && !dir.Exists)
        {
            return CliErrors.Report(LinkPath.Problem(dir.FullName)
                ?? $"The folder '{dir.FullName}' does not exist. Create it, or leave out --dir to use a temporary folder.");
        }

        var folder = dir is null ? Directory.CreateTempSubdirectory("walden-bench-") : dir.CreateSubdirectory($"walden-bench-{Environment.ProcessId}");
        var config = quick ? BenchConfig.Quick(folder.FullName) : BenchConfig.Default(folder.FullName);
        config = config with
        {
            ScenarioDuration = seconds is { } d ? TimeSpan.FromSeconds(d) : config.ScenarioDuration,
            Rounds = rounds ?? config.Rounds,
            Producers = producers ?? config.Producers,
            ArchiveProducers = producers ?? config.ArchiveProducers,
            Scenarios = scenarios is { Length: > 0 } ? scenarios.ToHashSet(StringComparer.Ordinal) : config.Scenarios,
        };

        // With --json, stdout carries only the JSON; the progress display goes to stderr.
        var console = json ? Terminal.Error() : AnsiConsole.Console;
        if (!console.Profile.Capabilities.Interactive)
        {
            console.Profile.Width = Math.Max(console.Profile.Width, 132); // a file or a CI log: keep the table's rows on one line each
        }

        try
        {
            var report = await RunWithProgressAsync(console, config, cancellationToken).ConfigureAwait(false);
            if (output is not null)
            {
                await File.WriteAllTextAsync(output.FullName, System.Text.Json.JsonSerializer.Serialize(report, Json.Options), cancellationToken).ConfigureAwait(false);
            }

            if (json)
            {
                Json.Write(report);
            }
            else
            {
                BenchTable.Write(console, report);
            }

            return ExitCodes.Ok; // a missed target is reported, not a failure: the machine may be busy
        }
        catch (WaldenException ex)
        {
            return CliErrors.Report(ex.Message, ExitCodes.Failed);
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException or InvalidOperationException)
        {
            return CliErrors.Report($"The benchmark stopped: {ex.Message} (folder '{folder.FullName}'; check that its disk has room and is local).", ExitCodes.Failed);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static async Task<BenchReport> RunWithProgressAsync(IAnsiConsole console, BenchConfig config, CancellationToken cancellationToken)
    {
        BenchProgress? current = null;
        var runner = new BenchRunner(config, progress => Volatile.Write(ref current, progress));
        if (!console.Profile.Capabilities.Interactive)
        {
            // No live display (CI, a pipe): one line per step instead.
            var plain = new BenchRunner(config, progress => console.MarkupLine($"[grey][[{progress.Step}/{progress.Steps}]] {Markup.Escape(progress.Title)}[/]"));
            return await plain.RunAsync(cancellationToken).ConfigureAwait(false);
        }

        BenchReport? report = null;
        await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask("starting", maxValue: runner.Steps);
                var running = runner.RunAsync(cancellationToken);
                while (!running.IsCompleted)
                {
                    if (Volatile.Read(ref current) is { } now)
                    {
                        task.Description = Markup.Escape(now.Title);
                        task.Value = now.Step;
                    }

                    await Task.WhenAny(running, Task.Delay(100, cancellationToken)).ConfigureAwait(false);
                }

                report = await running.ConfigureAwait(false);
                task.Value = runner.Steps;
            }).ConfigureAwait(false);
        return report!;
    }
}
