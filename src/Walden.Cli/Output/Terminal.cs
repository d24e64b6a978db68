using Spectre.Console;

namespace Walden.Cli.Output;

/// <summary>
/// The consoles every command writes through: colour and styling only on a terminal. When the output
/// is piped or redirected, or NO_COLOR is set (no-color.org), text is plain (no escape codes) and is
/// not wrapped at the 80 columns Spectre assumes without a terminal, so scripts can read it line by line.
/// </summary>
internal static class Terminal
{
    private const int UnwrappedWidth = 4096;

    /// <summary>Makes <see cref="AnsiConsole.Console"/> (standard output) follow these rules; called once at start.</summary>
    internal static void Configure() => AnsiConsole.Console = Create(Console.Out, Console.IsOutputRedirected);

    /// <summary>The console for standard error.</summary>
    internal static IAnsiConsole Error() => Create(Console.Error, Console.IsErrorRedirected);

    private static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        var plain = redirected || Environment.GetEnvironmentVariable("NO_COLOR") is { Length: > 0 };
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = plain ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = plain ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
            Interactive = plain ? InteractionSupport.No : InteractionSupport.Detect,
        });
        if (redirected)
        {
            console.Profile.Width = UnwrappedWidth;
        }

        return console;
    }
}
