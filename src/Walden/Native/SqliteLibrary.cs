using System.Runtime.CompilerServices;
using SQLitePCL;

namespace Walden.Native;

/// <summary>
/// Binds Microsoft.Data.Sqlite to Walden's own native SQLite and guards its version.
/// </summary>
internal static class SqliteLibrary
{
    /// <summary>The first version with the WAL-reset fix (3.51.3).</summary>
    internal const int MinimumFixedVersion = 3_051_003;

    /// <summary>3.52.0 was released without the fix and withdrawn; the fix is in 3.53.0 and later.</summary>
    internal const int WithdrawnLineStart = 3_052_000;
    internal const int WithdrawnLineEnd = 3_053_000;

    private static int _checked;

#pragma warning disable CA2255 // A module initializer is the documented way to set the provider before any connection opens.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize()
    {
        // Only the provider, never a bundle: a bundle would ship its own 3.35.5 and could win the load (NATIVE.md).
        raw.SetProvider(new SQLite3Provider_e_sqlite3());
    }

    /// <summary>The version text of the loaded native library, e.g. "3.54.1".</summary>
    internal static string Version => raw.sqlite3_libversion().utf8_to_string();

    /// <summary>The version number of the loaded native library, e.g. 3054001.</summary>
    internal static int VersionNumber => raw.sqlite3_libversion_number();

    /// <summary>Checks the loaded library once per process; throws if it carries the WAL-reset bug.</summary>
    internal static void EnsureSupported()
    {
        if (Volatile.Read(ref _checked) == 1)
        {
            return;
        }

        EnsureSupported(VersionNumber, Version);
        Volatile.Write(ref _checked, 1);
    }

    /// <summary>The check itself, separated so tests can feed it any version.</summary>
    internal static void EnsureSupported(int versionNumber, string version)
    {
        if (versionNumber < MinimumFixedVersion || versionNumber is >= WithdrawnLineStart and < WithdrawnLineEnd)
        {
            throw new WaldenConfigurationException(
                $"The native SQLite loaded by this process is {version} ({versionNumber}), which has the WAL-reset bug: " +
                "with two or more connections writing and checkpointing one WAL database at about the same time, the database can be corrupted " +
                "(https://www.sqlite.org/wal.html#walresetbug). Walden needs 3.51.3 or later (3.52.x excluded). " +
                "Make sure libe_sqlite3.so built by native/build.sh sits in the application folder and that no SQLitePCLRaw bundle package is referenced.");
        }
    }
}
