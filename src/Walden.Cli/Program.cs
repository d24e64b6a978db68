using System.CommandLine;
using Walden.Cli.Commands;

var root = new RootCommand("walden: safe, fast SQLite for many concurrent writers. Inspect, check and exercise any SQLite database.")
{
    InfoCommand.Create(),
    DemoCommand.Create(),
    StatsCommand.Create(),
    CheckpointCommand.Create(),
    SoakCommand.Create(),
};

return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
