using System.CommandLine;
using Walden.Cli.Commands;

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

return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
