using Spectre.Console;

namespace Walden.Cli.Output;

/// <summary>Prints an error the user can act on, to stderr, and returns <see cref="ExitCodes.CannotRun"/>.</summary>
internal static class CliErrors
{
    internal static int Report(string message, int exitCode = ExitCodes.CannotRun)
    {
        var error = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        error.MarkupLine($"[red]error:[/] {Markup.Escape(message)}");
        return exitCode;
    }
}
