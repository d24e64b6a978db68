namespace Walden.Diagnostics.Doctor;

/// <summary>How bad a finding of the doctor is.</summary>
internal enum DoctorSeverity
{
    /// <summary>Checked, and fine.</summary>
    Ok,

    /// <summary>Needs attention: data is not at risk yet, or only under conditions the doctor cannot see.</summary>
    Warning,

    /// <summary>A known way to corrupt or lose this database is present now.</summary>
    Danger,
}

/// <summary>One thing the doctor checked.</summary>
/// <param name="Check">What was checked, as a short name ("processes", "file system", "last writer", ...).</param>
/// <param name="Severity">Ok, Warning or Danger.</param>
/// <param name="Seen">What was seen, with the figures.</param>
/// <param name="Why">Why it matters, in one line (empty for most Ok findings).</param>
/// <param name="Action">What to do (empty when nothing is to be done).</param>
internal sealed record DoctorFinding(string Check, DoctorSeverity Severity, string Seen, string Why = "", string Action = "");

/// <summary>Everything the doctor found about one database.</summary>
/// <param name="Database">The database path examined.</param>
/// <param name="Severity">The worst severity among the findings.</param>
/// <param name="Findings">Every check, in the order run.</param>
/// <param name="Processes">The other processes holding the database's files, with the SQLite each has mapped.</param>
internal sealed record DoctorReport(string Database, DoctorSeverity Severity, IReadOnlyList<DoctorFinding> Findings,
    IReadOnlyList<DoctorProcess> Processes);

/// <summary>A process holding the database's files, as the doctor reports it.</summary>
/// <param name="ProcessId">Its process id.</param>
/// <param name="CommandLine">Its command line, when readable.</param>
/// <param name="Files">Which files it holds (with "(deleted)" for files deleted while it holds them).</param>
/// <param name="Sqlite">The SQLite copies it has mapped: what, version, file, whether it has the WAL-reset bug.</param>
internal sealed record DoctorProcess(int ProcessId, string? CommandLine, IReadOnlyList<string> Files, IReadOnlyList<DoctorLibrary> Sqlite);

/// <summary>One SQLite a process has mapped.</summary>
/// <param name="What">What it is (Python's sqlite3 module, better-sqlite3, e_sqlite3, Walden's build, ...).</param>
/// <param name="Version">Its version, e.g. "3.40.1", or null when only the source id was found.</param>
/// <param name="SourceId">SQLite's source id in the file.</param>
/// <param name="File">The file.</param>
/// <param name="WalResetBug">True when this version has the WAL-reset bug; null when unknown.</param>
internal sealed record DoctorLibrary(string What, string? Version, string SourceId, string File, bool? WalResetBug);
