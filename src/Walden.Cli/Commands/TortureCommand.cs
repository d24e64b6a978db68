using System.CommandLine;
using Spectre.Console;
using Walden.Cli.Output;
using Walden.Files;
using Walden.Cli.Torture;

namespace Walden.Cli.Commands;

/// <summary>
/// <c>walden torture</c>: worker processes write through Walden while the supervisor SIGKILLs them at
/// random moments, then checks that every acknowledged write survived; and the hidden <c>torture-worker</c>.
/// </summary>
internal static class TortureCommand
{
    private static readonly string[] Hazards = ["none", "delete-wal", "copy-while-writing", "sync-off"];

    internal static Command Create()
    {
        var dir = new Option<DirectoryInfo?>("--dir") { Description = "Folder for the database (torture.db), the run log and any failure log. Default: a new temporary folder, removed after a passing run." };
        var processes = new Option<int>("--processes") { Description = "Worker processes per cycle (the first also checkpoints, the second also reads).", DefaultValueFactory = _ => 4 };
        var cycles = new Option<int>("--cycles") { Description = "Cycles: start workers, SIGKILL one or all at a random moment, check.", DefaultValueFactory = _ => 200 };
        var seconds = new Option<double>("--seconds-per-cycle") { Description = "How long the workers write in each cycle.", DefaultValueFactory = _ => 2 };
        var durability = new Option<WaldenDurability>("--durability")
        {
            Description = "full, normal or fullpipelined.",
            DefaultValueFactory = _ => WaldenDurability.Full,
        };
        var producers = new Option<int>("--producers") { Description = "Concurrent producers in each worker.", DefaultValueFactory = _ => 16 };
        var seed = new Option<int?>("--seed") { Description = "Seed of the kill schedule, to replay a run. Default: random, printed." };
        var hazard = new Option<string>("--hazard")
        {
            Description = "Commit a documented way to lose data on purpose, to prove the checker sees it: delete-wal (delete -wal/-shm while writers run), " +
                          "copy-while-writing (File.Copy the database alone while writers run, then check the copy), sync-off (with --power-loss: " +
                          "the workers' fsyncs are skipped, as synchronous=OFF does). A hazard run stops at the first " +
                          "detection and exits 0 when the hazard was detected as expected, 1 when the checker failed to detect anything.",
            DefaultValueFactory = _ => "none",
        };
        hazard.AcceptOnlyFromAmong(Hazards);
        var keep = new Option<int>("--keep-cycles") { Description = "Records of this many recent cycles are re-verified every cycle; older ones are deleted to keep checks fast (0 keeps all).", DefaultValueFactory = _ => 10 };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var powerLoss = new Option<bool>("--power-loss")
        {
            Description = "Power cuts instead of SIGKILLs: the workers run on the fault VFS (source builds only), every worker dies at once and the " +
                          "files are left as a power cut would leave them (unsynced sectors kept, dropped, torn or garbled). Full must lose nothing; " +
                          "Normal must stay intact and may lose the last unsynced acknowledgements (measured and reported).",
        };
        var foreign = new Option<FileInfo?>("--foreign-writer")
        {
            Description = "Mixed mode: the sqlite3 shell at this path (build it with Walden's SQLite: native/bin/sqlite3) commits rows into its own " +
                          "table beside the workers in every cycle, as a program that is not Walden's would; it is killed with them.",
        };
        var archive = new Option<string?>("--archive")
        {
            Description = "sync or async: the worker archives every commit to <dir>/archive in that mode, and after every kill the database is " +
                          "restored from the archive alone and checked: every acknowledged write must be there (sync), or every write acknowledged " +
                          "at least --archive-bound before the kill (async); integrity ok. One worker process (an archive follows one Walden process).",
        };
        archive.AcceptOnlyFromAmong("sync", "async");
        var archiveBound = new Option<double>("--archive-bound")
        {
            Description = "Async: the stated lag bound in seconds (the archive's MaxLag, 1 s by default).",
            DefaultValueFactory = _ => WaldenArchiveOptions.DefaultMaxLag.TotalSeconds,
        };
        var command = new Command("torture",
            "Crash test: worker processes write through Walden while they are SIGKILLed at random moments; after each kill the database is checked " +
            "(integrity_check, every acknowledged write present with a valid checksum, no duplicates). Exit 0 = nothing lost, 1 = a loss or corruption " +
            "(the database and the cycle's log are kept in --dir), 2 = could not run.")
        {
            dir, processes, cycles, seconds, durability, producers, seed, hazard, keep, json, powerLoss, foreign, archive, archiveBound,
        };
        command.SetAction((result, cancellationToken) =>
        {
            var archiveMode = result.GetValue(archive) switch { "sync" => WaldenArchiveMode.Sync, "async" => WaldenArchiveMode.Async, _ => (WaldenArchiveMode?)null };
            var processCount = archiveMode is not null && result.GetResult(processes) is null or { Implicit: true } ? 1 : result.GetValue(processes);
            return RunAsync(
                result.GetValue(dir), processCount, result.GetValue(cycles), result.GetValue(seconds), result.GetValue(durability),
                result.GetValue(producers), result.GetValue(seed), result.GetValue(hazard)!, result.GetValue(keep), result.GetValue(json),
                result.GetValue(powerLoss), result.GetValue(foreign), (archiveMode, result.GetValue(archiveBound)), cancellationToken);
        });
        return command;
    }

    internal static Command CreateWorker()
    {
        var db = new Option<FileInfo>("--db") { Required = true };
        var worker = new Option<long>("--worker") { Required = true };
        var role = new Option<WorkerRole>("--role") { DefaultValueFactory = _ => WorkerRole.Writer };
        var producers = new Option<int>("--producers") { DefaultValueFactory = _ => 16 };
        var durability = new Option<WaldenDurability>("--durability") { DefaultValueFactory = _ => WaldenDurability.Full };
        var archive = new Option<DirectoryInfo?>("--archive");
        var archiveMode = new Option<WaldenArchiveMode>("--archive-mode") { DefaultValueFactory = _ => WaldenArchiveMode.Async };
        var command = new Command("torture-worker", "A worker of 'walden torture' (started by it; not for direct use).")
        {
            db, worker, role, producers, durability, archive, archiveMode,
        };
        command.Hidden = true;
        command.SetAction(result => new TortureWorker(result.GetValue(db)!.FullName, result.GetValue(worker), result.GetValue(producers),
            result.GetValue(role), result.GetValue(durability), result.GetValue(archive)?.FullName, result.GetValue(archiveMode)).RunAsync());
        return command;
    }

    private static async Task<int> RunAsync(DirectoryInfo? dir, int processes, int cycles, double seconds, WaldenDurability durability,
        int producers, int? seed, string hazardName, int keepCycles, bool json, bool powerLoss, FileInfo? foreignWriter,
        (WaldenArchiveMode? Mode, double Bound) archive, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        if (archive.Mode is not null)
        {
            problems.AddRange(ArchiveProblems(processes, hazardName, powerLoss, foreignWriter, archive.Bound));
        }

        if (foreignWriter is { Exists: false })
        {
            problems.Add($"--foreign-writer: '{foreignWriter.FullName}' does not exist; pass the sqlite3 shell built with Walden's SQLite (native/bin/sqlite3).");
        }

        if (processes is < 1 or > 64)
        {
            problems.Add($"--processes must be 1 to 64 (currently {processes}).");
        }

        if (cycles < 1)
        {
            problems.Add($"--cycles must be at least 1 (currently {cycles}).");
        }

        if (seconds is < 0.2 or > 3600)
        {
            problems.Add($"--seconds-per-cycle must be 0.2 to 3600 (currently {seconds}).");
        }

        if (producers is < 1 or > 1000)
        {
            problems.Add($"--producers must be 1 to 1,000 (currently {producers}).");
        }

        if (keepCycles < 0)
        {
            problems.Add($"--keep-cycles must be 0 or more (currently {keepCycles}).");
        }

        if (dir is { Exists: false })
        {
            problems.Add(LinkPath.Problem(dir.FullName) ?? $"The folder '{dir.FullName}' does not exist; create it or leave out --dir for a temporary one.");
        }

        problems.AddRange(PowerLossProblems(powerLoss, hazardName, durability));
        if (powerLoss && foreignWriter is not null)
        {
            problems.Add("--foreign-writer cannot be combined with --power-loss: the shell does not run on the fault VFS, so a power cut could not " +
                         "drop its unsynced writes. Run the two modes separately.");
        }

        if (problems.Count > 0)
        {
            return CliErrors.Report(string.Join(" ", problems));
        }

        var hazard = hazardName switch
        {
            "delete-wal" => TortureHazard.DeleteWal,
            "copy-while-writing" => TortureHazard.CopyWhileWriting,
            "sync-off" => TortureHazard.SyncOff,
            _ => TortureHazard.None,
        };
        var temporary = dir is null ? Directory.CreateTempSubdirectory("walden-torture-") : null;
        var settings = new TortureSettings((dir ?? temporary)!.FullName, processes, cycles, seconds, durability, producers,
            seed ?? Random.Shared.Next(), hazard, keepCycles, foreignWriter?.FullName)
        {
            PowerLoss = powerLoss,
            Archive = archive.Mode,
            ArchiveBound = TimeSpan.FromSeconds(archive.Bound),
        };
        if (!json)
        {
            AnsiConsole.MarkupLine($"walden torture: seed [bold]{settings.Seed}[/] (replay with --seed {settings.Seed}), database {Markup.Escape(settings.DatabasePath)}");
        }

        TortureReport report;
        try
        {
            report = await RunWithProgressAsync(settings, json, cancellationToken).ConfigureAwait(false);
        }
        catch (WaldenException ex)
        {
            return CliErrors.Report($"The torture run could not start on '{settings.DatabasePath}': {ex.Message}");
        }

        if (json)
        {
            Json.Write(report);
        }
        else
        {
            TortureReporting.Print(report);
        }

        var exitCode = TortureReporting.ExitCode(report);
        if (temporary is not null && exitCode == ExitCodes.Ok && report.FailureLog is null)
        {
            temporary.Delete(recursive: true);
        }

        return exitCode;
    }

    private static IEnumerable<string> ArchiveProblems(int processes, string hazard, bool powerLoss, FileInfo? foreignWriter, double bound)
    {
        if (processes != 1)
        {
            yield return $"--archive runs one worker process (currently --processes {processes}): an archive follows the commits of one Walden " +
                         "process, and another process's commits would be answered with a new base, not archived as acknowledged. Leave out --processes.";
        }

        if (hazard != "none" || powerLoss || foreignWriter is not null)
        {
            yield return "--archive cannot be combined with --hazard, --power-loss or --foreign-writer; run them separately.";
        }

        if (bound is < 0.01 or > 3600)
        {
            yield return $"--archive-bound must be 0.01 to 3600 seconds (currently {bound}).";
        }
    }

    private static IEnumerable<string> PowerLossProblems(bool powerLoss, string hazard, WaldenDurability durability)
    {
        if (hazard == "sync-off" && (!powerLoss || durability != WaldenDurability.Full))
        {
            yield return "--hazard sync-off needs --power-loss and --durability full (only a power cut shows a skipped fsync; Normal may lose writes anyway).";
        }

        if (powerLoss && hazard is "delete-wal" or "copy-while-writing")
        {
            yield return $"--hazard {hazard} is a SIGKILL hazard; with --power-loss only sync-off is available.";
        }

        if (powerLoss && !File.Exists(Faults.FaultVfs.LibraryPath))
        {
            yield return $"--power-loss needs the fault VFS ({Faults.FaultVfs.FileName}), which is built with the source and not shipped in the package; " +
                         "run 'dotnet run --project src/Walden.Cli -- torture --power-loss' from a clone.";
        }
    }

    private static async Task<TortureReport> RunWithProgressAsync(TortureSettings settings, bool json, CancellationToken cancellationToken)
    {
        var launch = WorkerLaunch.FromCurrentProcess();
        if (json)
        {
            return await new TortureSupervisor(settings, launch).RunAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            // Redirected to a file: one line per cycle, so a long run can be followed with tail -f.
            return await new TortureSupervisor(settings, launch, c => Console.WriteLine(ProgressLine(c))).RunAsync(cancellationToken).ConfigureAwait(false);
        }

        return await AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask("starting the first cycle", maxValue: settings.Cycles);
                long acks = 0, lost = 0;
                var kills = 0;
                var supervisor = new TortureSupervisor(settings, launch, c =>
                {
                    acks += c.WritesAcknowledged;
                    lost += c.WritesLost;
                    kills += c.ProcessesKilled;
                    task.Increment(1);
                    task.Description = Markup.Escape($"cycle {c.Cycle}/{settings.Cycles}: {kills} kills, {acks:N0} acks, {lost} lost, {c.AcknowledgedPerSecond:N0} acks/s");
                });
                return await supervisor.RunAsync(cancellationToken).ConfigureAwait(false);
            }).ConfigureAwait(false);
    }

    private static string ProgressLine(CycleResult c) =>
        $"cycle {c.Cycle}: killed {c.KillMode} ({c.ProcessesKilled}), {c.WritesAcknowledged:N0} acks ({c.AcknowledgedPerSecond:N0}/s), " +
        $"{c.RowsInDatabase:N0} rows, lost {c.WritesLost}, integrity {(c.IntegrityOk ? "ok" : "FAILED")}, duplicates {c.DuplicateRecords}, damaged {c.DamagedRecords}" +
        (c.Hazard is { } h ? $", hazard {(h.Detected ? "detected" : "not detected")}: {h.Detail}" : string.Empty);
}
