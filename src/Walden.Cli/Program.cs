using System.CommandLine;
using Walden.Cli.Commands;
using Walden.Cli.Output;

Terminal.Configure();

var root = new RootCommand("walden: safe, fast SQLite for many concurrent writers. Inspect, check and exercise any SQLite database.")
{
    InfoCommand.Create(),
    DemoCommand.Create(),
    BenchCommand.Create(),
    BackupCommand.Create(),
    BackupsCommand.Create(),
    RestoreCommand.Create(),
    BackupBenchCommand.Create(),
    CheckCommand.Create(),
    RecoverCommand.Create(),
    TortureCommand.Create(),
    TortureCommand.CreateWorker(),
    StatsCommand.Create(),
    CheckpointCommand.Create(),
    SoakCommand.Create(),
};

try
{
    // Errors are ours to print: one line with the cause and what to do, never a stack trace (CliErrors.Unexpected).
    var parsed = root.Parse(args);
    if (parsed.Errors.Count > 0 && parsed.CommandResult.Command != root)
    {
        // A command's wrong or missing argument: one line and exit 2, like every other failure (JSON too when asked).
        return CliErrors.Report(string.Join(" ", parsed.Errors.Select(e => e.Message)) +
            $" Run 'walden {parsed.CommandResult.Command.Name} --help' for its arguments and options.");
    }

    return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
}
catch (Exception ex)
{
    return CliErrors.Unexpected(ex);
}
