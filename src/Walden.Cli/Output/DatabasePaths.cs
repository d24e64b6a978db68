using System.CommandLine;
using Walden.Files;

namespace Walden.Cli.Output;

/// <summary>
/// The check every command runs on a path where a database belongs, at parse time, before anything is opened or created:
/// a -wal, -shm or -journal passed instead of its database is refused as bad usage (exit 2) with the database to pass.
/// SQLite would otherwise open the companion as a database of its own, call it damaged, and create companions of the
/// companion ('app.db-shm-journal') beside the user's files. Every path a command takes (a database, an output, a backup or
/// archive folder) is also followed component by component: a symbolic-link loop or a dangling folder link anywhere on it
/// is refused naming that component (<see cref="LinkPath"/>), where the first check to meet it called it "a file" or missing.
/// </summary>
internal static class DatabasePaths
{
    /// <summary>Refuses a companion file for <paramref name="argument"/>; <paramref name="creates"/>: the command may create the file.</summary>
    internal static Argument<FileInfo> RefusingCompanions(this Argument<FileInfo> argument, bool creates = false)
    {
        argument.Validators.Add(result => _ = EmptyPaths.IsBlank(result) || Validate(result, result.GetValueOrDefault<FileInfo>()?.FullName, creates));
        return argument;
    }

    /// <summary>As for an argument, for an option that names a database.</summary>
    internal static Option<FileInfo?> RefusingCompanions(this Option<FileInfo?> option, bool creates = false)
    {
        option.Validators.Add(result => _ = EmptyPaths.IsBlank(result) || Validate(result, result.GetValueOrDefault<FileInfo?>()?.FullName, creates));
        return option;
    }

    /// <summary>As for an argument, for one given as a string.</summary>
    internal static Argument<string> RefusingCompanions(this Argument<string> argument)
    {
        argument.IsPath("the database file");
        argument.Validators.Add(result => _ = EmptyPaths.IsBlank(result) || Validate(result, result.GetValueOrDefault<string>(), creates: false));
        return argument;
    }

    /// <summary>Refuses a folder path that cannot be followed (<see cref="LinkPath"/>): a backup folder, a backup list's.</summary>
    internal static Argument<DirectoryInfo> RefusingLinkLoops(this Argument<DirectoryInfo> argument)
    {
        argument.Validators.Add(result => _ = EmptyPaths.IsBlank(result) || ValidateLinks(result, result.GetValueOrDefault<DirectoryInfo>()?.FullName));
        return argument;
    }

    /// <summary>As for a folder, for a path given as a string that may also be a URL (an archive's s3://, left to its own checks).</summary>
    internal static Argument<string> RefusingLinkLoops(this Argument<string> argument, string what = "the archive: its folder or s3://bucket/prefix")
    {
        argument.IsPath(what);
        argument.Validators.Add(result => _ = EmptyPaths.IsBlank(result) || ValidateLinks(result, result.GetValueOrDefault<string>()));
        return argument;
    }

    private static bool Validate(System.CommandLine.Parsing.SymbolResult result, string? path, bool creates)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return true;
        }

        if ((LinkPath.Problem(path, mayCreate: creates) ?? DatabaseFiles.CompanionProblem(path, creates) ??
             FileKind.CompanionNotAFile(Path.GetFullPath(path))) is { } problem)
        {
            result.AddError(problem);
        }

        return true;
    }

    private static bool ValidateLinks(System.CommandLine.Parsing.SymbolResult result, string? path)
    {
        if (!string.IsNullOrWhiteSpace(path) && !path.Contains("://", StringComparison.Ordinal) && LinkPath.Problem(path) is { } problem)
        {
            result.AddError(problem);
        }

        return true;
    }
}
