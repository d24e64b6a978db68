using System.CommandLine;
using System.CommandLine.Parsing;
using System.Runtime.CompilerServices;

namespace Walden.Cli.Output;

/// <summary>
/// The one check for an empty path, for every command: an unset shell variable (<c>walden check "$DB"</c>) gives an empty
/// argument, which .NET refuses deep inside (FileInfo, Path.GetFullPath) and the tool reported as an unexpected error to
/// report. Every argument and option typed as a file or folder, and each path given as a string (<see cref="IsPath{T}"/>),
/// gets a parser that refuses an empty or blank value at parse time, naming the argument as typed and what it wants.
/// </summary>
internal static class EmptyPaths
{
    // Paths typed as strings (they may be URLs, or are opened by the engine), with what each one names.
    private static readonly ConditionalWeakTable<Symbol, string> StringPaths = [];

    /// <summary>Marks a path given as a string; <paramref name="what"/> completes "give the path of ...".</summary>
    internal static T IsPath<T>(this T symbol, string what)
        where T : Symbol
    {
        StringPaths.AddOrUpdate(symbol, what);
        return symbol;
    }

    /// <summary>Adds the check to every path argument and option of <paramref name="command"/> and its subcommands.</summary>
    internal static void RefuseEmpty(Command command)
    {
        foreach (var argument in command.Arguments)
        {
            Guard(argument, $"<{argument.Name}>");
        }

        foreach (var option in command.Options)
        {
            Guard(option, option.Name);
        }

        foreach (var subcommand in command.Subcommands)
        {
            RefuseEmpty(subcommand);
        }
    }

    /// <summary>
    /// Whether the value is empty, for a validator that reads it: the parser has said so, and reading the value would throw.
    /// </summary>
    internal static bool IsBlank(SymbolResult result) => result.Tokens.Any(token => string.IsNullOrWhiteSpace(token.Value));

    private static void Guard(Symbol symbol, string name)
    {
        switch (symbol)
        {
            case Argument<FileInfo> file:
                file.CustomParser = result => Parse(result, name, "the database file", token => new FileInfo(token));
                break;
            case Option<FileInfo> file:
                var what = name switch
                {
                    "--db" => "the database file",
                    "--output" => "the file to write",
                    "--schema-from" => "the healthy copy, backup or .sql file",
                    _ => "a file",
                };
                file.CustomParser = result => Parse(result, name, what, token => new FileInfo(token));
                break;
            case Argument<DirectoryInfo> folder:
                folder.CustomParser = result => Parse(result, name, "a folder", token => new DirectoryInfo(token));
                break;
            case Option<DirectoryInfo> folder:
                folder.CustomParser = result => Parse(result, name, "a folder", token => new DirectoryInfo(token));
                break;
            case Argument<string> text when StringPaths.TryGetValue(symbol, out var named):
                text.CustomParser = result => Parse(result, name, named, token => token);
                break;
            case Option<string> text when StringPaths.TryGetValue(symbol, out var named):
                text.CustomParser = result => Parse(result, name, named, token => token);
                break;
        }
    }

    private static T? Parse<T>(ArgumentResult result, string name, string what, Func<string, T> create)
        where T : class
    {
        var token = result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;
        if (string.IsNullOrWhiteSpace(token))
        {
            result.AddError($"{name} is empty: give the path of {what} (an unset shell variable gives an empty argument).");
            return null;
        }

        return create(token);
    }
}
