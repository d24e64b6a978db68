using System.CommandLine;
using Walden.Cli.Commands;
using Walden.Cli.Output;

Terminal.Configure();

var root = new RootCommand("walden: safe, fast SQLite for many concurrent writers. Inspect, check and exercise any SQLite database.")
{
    InfoCommand.Create(),
    DemoCommand.Create(),
    BenchCommand.Create(),
    BenchCommand.CreateWorker(),
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
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }).ConfigureAwait(false);
}
catch (Exception ex)
{
    return CliErrors.Unexpected(ex);
}
