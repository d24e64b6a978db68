using Microsoft.Data.Sqlite;
using Spectre.Console;
using Walden.Files;

namespace Walden.Cli.Output;

/// <summary>Prints an error the user can act on, as one line on stderr, and returns the command's exit code.</summary>
internal static class CliErrors
{
    internal static int Report(string message, int exitCode = ExitCodes.CannotRun)
    {
        var error = Terminal.Error();
        var line = string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        error.MarkupLine($"[red]error:[/] {Markup.Escape(line)}");
        return exitCode;
    }

    /// <summary>
    /// The last line of defence for an error a command did not handle: still one line naming the cause
    /// and what to do, never a stack trace, and exit code 2 (the command could not run).
    /// </summary>
    internal static int Unexpected(Exception exception) => exception switch
    {
        OperationCanceledException => Report("Cancelled. Nothing was left half-written."),
        WaldenException walden => Report(walden.Message),
        SqliteException sqlite when Configuration.StandIns.IsMissing(sqlite, out var collation, out var name) =>
            Report(OpenErrors.MissingDefinition("the database", collation, name)),
        SqliteException sqlite => Report(Errors.SqliteErrors.Translate(sqlite, "The command", new WaldenOptions()).Message),
        IOException or UnauthorizedAccessException => Report(IoErrors.Translate(exception, "The command", null).Message),
        _ => Report($"Unexpected error ({exception.GetType().Name}): {exception.Message} Please report it with the command you ran."),
    };
}
