namespace Walden.Cli.Output;

/// <summary>Exit codes shared by every command, stable so scripts can rely on them.</summary>
internal static class ExitCodes
{
    /// <summary>Done, and what was checked is healthy.</summary>
    internal const int Ok = 0;

    /// <summary>The command ran and found a problem (corruption, lost writes, a failed target).</summary>
    internal const int Failed = 1;

    /// <summary>The command could not run on its input (missing file, not a database, locked, bad option).</summary>
    internal const int CannotRun = 2;
}
