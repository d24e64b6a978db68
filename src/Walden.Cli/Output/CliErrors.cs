using Microsoft.Data.Sqlite;
using Spectre.Console;
using Walden.Files;

namespace Walden.Cli.Output;

/// <summary>
/// Prints an error the user can act on, as one line on stderr, and returns the command's exit code. When the
/// command was asked for <c>--json</c>, standard output also gets one JSON document with the same facts
/// (<c>{"error": ..., "exitCode": ...}</c>), so a script reading it never gets nothing or half a document.
/// </summary>
internal static class CliErrors
{
    internal static int Report(string message, int exitCode = ExitCodes.CannotRun) =>
        Report(message, exitCode, line => new { error = line, exitCode });

    /// <summary>
    /// As <see cref="Report(string, int)"/>, for a failure that comes with facts of the command's own (a restore that
    /// stopped early, a verification that failed): with --json the one document is <paramref name="document"/>, given the
    /// error line, carrying those facts with <c>error</c> and <c>exitCode</c>; a result followed by an error document
    /// was two documents on stdout, which no JSON reader takes.
    /// </summary>
    internal static int Report<T>(string message, int exitCode, Func<string, T> document)
    {
        var error = Terminal.Error();
        var line = string.Join(' ', ForTheTool(message).Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        if (JsonRequested())
        {
            Json.Write(document(line));
        }

        error.MarkupLine($"[red]error:[/] {Markup.Escape(line)}");
        return exitCode;
    }

    /// <summary>
    /// Whether the command line asks for JSON: every command spells it <c>--json</c>, and the error paths (including
    /// the last line of defence, which does not know the command) must honour it. Arguments after <c>--</c> are operands.
    /// </summary>
    internal static bool JsonRequested() =>
        Environment.GetCommandLineArgs().Skip(1).TakeWhile(argument => argument != "--").Contains("--json", StringComparer.Ordinal);

    /// <summary>
    /// A busy message as the tool can act on it: the library's advice names WaldenOptions.BusyTimeout, which only code can set;
    /// the tool's commands wait a fixed time, except those with a --busy-timeout of their own.
    /// </summary>
    internal static string ForTheTool(string message)
    {
        if (!message.Contains(Errors.SqliteErrors.BusyAdvice, StringComparison.Ordinal))
        {
            return message;
        }

        var arguments = Environment.GetCommandLineArgs().Skip(1).TakeWhile(argument => argument != "--").ToList();
        var wait = arguments.Contains("--busy-timeout", StringComparer.Ordinal) || arguments.FirstOrDefault() == "checkpoint"
            ? "Run it again with a longer --busy-timeout, or find"
            : "The walden command has no option to wait longer: find";
        return Errors.SqliteErrors.WithBusyAdvice(message, $"{wait} the process that keeps the database locked ('walden doctor <db>' " +
            "names the processes that hold it), let it finish or stop it, and try again.");
    }

    /// <summary>
    /// The message of an open's refusal, as the tool can act on it: a schema that needs the application's own collation or
    /// function is named with what the tool can do (the library's advice, WaldenOptions.ConfigureConnection, is for code).
    /// </summary>
    internal static string ForTheTool(WaldenException exception, string path) =>
        exception is WaldenConfigurationException { InnerException: SqliteException sqlite } &&
        Configuration.StandIns.IsMissing(sqlite, out var collation, out var name)
            ? OpenErrors.MissingDefinition(path, collation, name, tool: true)
            : exception is WaldenBusyException ? OpenErrors.NameHolder(exception, path).Message : exception.Message;

    /// <summary>
    /// The last line of defence for an error a command did not handle: still one line naming the cause
    /// and what to do, never a stack trace, and exit code 2 (the command could not run).
    /// </summary>
    internal static int Unexpected(Exception exception) => exception switch
    {
        OperationCanceledException => Report("Cancelled. Nothing was left half-written."),
        WaldenException walden => Report(walden.Message),
        SqliteException sqlite when Configuration.StandIns.IsMissing(sqlite, out var collation, out var name) =>
            Report(OpenErrors.MissingDefinition("the database", collation, name, tool: true)),
        SqliteException sqlite => Report(Errors.SqliteErrors.Translate(sqlite, "The command", new WaldenOptions()).Message),
        IOException or UnauthorizedAccessException => Report(IoErrors.Translate(exception, "The command", null).Message),
        _ => Report($"Unexpected error ({exception.GetType().Name}): {exception.Message} Please report it with the command you ran."),
    };
}
