using System.CommandLine;
using Walden.Files;

namespace Walden.Cli.Output;

/// <summary>
/// The check every command runs on a path where a database belongs, at parse time, before anything is opened or created:
/// a -wal, -shm or -journal passed instead of its database is refused as bad usage (exit 2) with the database to pass.
/// SQLite would otherwise open the companion as a database of its own, call it damaged, and create companions of the
/// companion ('app.db-shm-journal') beside the user's files.
/// </summary>
internal static class DatabasePaths
{
    /// <summary>Refuses a companion file for <paramref name="argument"/>; <paramref name="creates"/>: the command may create the file.</summary>
    internal static Argument<FileInfo> RefusingCompanions(this Argument<FileInfo> argument, bool creates = false)
    {
        argument.Validators.Add(result => Validate(result, result.GetValueOrDefault<FileInfo>()?.FullName, creates));
        return argument;
    }

    /// <summary>As for an argument, for an option that names a database.</summary>
    internal static Option<FileInfo?> RefusingCompanions(this Option<FileInfo?> option, bool creates = false)
    {
        option.Validators.Add(result => Validate(result, result.GetValueOrDefault<FileInfo?>()?.FullName, creates));
        return option;
    }

    /// <summary>As for an argument, for one given as a string.</summary>
    internal static Argument<string> RefusingCompanions(this Argument<string> argument)
    {
        argument.Validators.Add(result => Validate(result, result.GetValueOrDefault<string>(), creates: false));
        return argument;
    }

    private static void Validate(System.CommandLine.Parsing.SymbolResult result, string? path, bool creates)
    {
        if (!string.IsNullOrWhiteSpace(path) && DatabaseFiles.CompanionProblem(path, creates) is { } problem)
        {
            result.AddError(problem);
        }
    }
}
