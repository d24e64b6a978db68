using System.CommandLine;
using Walden.Cli.Commands;
using Walden.Cli.Faults;
using Walden.Cli.Output;

Terminal.Configure();

try
{
    // Test only: WALDEN_FAULT_VFS runs this process on the fault VFS (a slow or failing disk; torture --power-loss workers).
    FaultVfs.RegisterFromEnvironment();
}
catch (InvalidOperationException ex)
{
    return CliErrors.Report($"{FaultVfs.Variable} is set but the fault VFS cannot be used: {ex.Message}");
}

var root = new RootCommand("walden: safe, fast SQLite for many concurrent writers. Inspect, check and exercise any SQLite database.")
{
    InfoCommand.Create(),
    DemoCommand.Create(),
    BenchCommand.Create(),
    BenchCommand.CreateWorker(),
    BackupCommand.Create(),
    BackupsCommand.Create(),
    RestoreCommand.Create(),
    ArchiveCommand.Create(),
    BackupBenchCommand.Create(),
    CheckCommand.Create(),
    RecoverCommand.Create(),
    TortureCommand.Create(),
    TortureCommand.CreateWorker(),
    StatsCommand.Create(),
    CheckpointCommand.Create(),
    SoakCommand.Create(),
    DoctorCommand.Create(),
};
EmptyPaths.RefuseEmpty(root);

try
{
    // Errors are ours to print: one line with the cause and what to do, never a stack trace (CliErrors.Unexpected).
    var parsed = root.Parse(args);
    if (parsed.Errors.Count > 0 && parsed.CommandResult.Command != root)
    {
        // A command's wrong or missing argument: one line and exit 2, like every other failure (JSON too when asked).
        return CliErrors.Report(string.Join(" ", parsed.Errors.Select(e => e.Message)) +
            $" Run 'walden {CommandPath(parsed.CommandResult)} --help' for its arguments and options.");
    }

    return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
}
catch (Exception ex)
{
    return CliErrors.Unexpected(ex);
}

// The command as typed, below the root ("archive verify", not "verify": a subcommand's name alone is no command).
static string CommandPath(System.CommandLine.Parsing.CommandResult result)
{
    var names = new List<string>();
    for (var current = result; current is not null && current.Command is not RootCommand; current = current.Parent as System.CommandLine.Parsing.CommandResult)
    {
        names.Insert(0, current.Command.Name);
    }

    return string.Join(' ', names);
}
