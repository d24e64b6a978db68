using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SQLitePCL;

namespace Walden.Native;

/// <summary>
/// Binds Microsoft.Data.Sqlite to Walden's own native SQLite (or, where that is not available, the stock one:
/// see <see cref="NativeLoader"/>), guards its version and says what the loaded library can do.
/// </summary>
internal static class SqliteLibrary
{
    /// <summary>The first version with the WAL-reset fix (3.51.3).</summary>
    internal const int MinimumFixedVersion = 3_051_003;

    /// <summary>3.52.0 was released without the fix and withdrawn; the fix is in 3.53.0 and later.</summary>
    internal const int WithdrawnLineStart = 3_052_000;
    internal const int WithdrawnLineEnd = 3_053_000;

    private static int _checked;
    private static string? _loadedPath;

#pragma warning disable CA2255 // A module initializer is the documented way to set the provider before any connection opens.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize()
    {
        // Only the provider, never a bundle's initialiser: the resolver NativeLoader registers decides which file the
        // provider's "e_sqlite3" is, so another libe_sqlite3.so in the application folder cannot win the load (docs/native.md).
        NativeLoader.Initialize();
        raw.SetProvider(new CachingProvider(new SQLite3Provider_e_sqlite3())); // the cache serves only Walden's own connections
    }

    /// <summary>
    /// The full path of the library SQLitePCLRaw's calls actually go to: the mapped file holding the version string
    /// that <c>sqlite3_libversion</c> returns. Null where /proc/self/maps cannot be read.
    /// </summary>
    internal static unsafe string? LoadedPath
    {
        get
        {
            if (_loadedPath is null)
            {
                fixed (byte* version = raw.sqlite3_libversion())
                {
                    _loadedPath = ProcessMaps.FileAt(ProcessMaps.Read(), (ulong)version);
                }
            }

            return _loadedPath;
        }
    }

    /// <summary>True when this process runs on Walden's own build (recovery, dbstat and sqlite_dbpage available).</summary>
    internal static bool IsWaldenBuild => NativeLoader.WaldenPath is { } path && (LoadedPath is null || LoadedPath == path);

    /// <summary>Which library this is, in words: version, Walden's build or stock, and the file.</summary>
    internal static string Description => IsWaldenBuild
        ? $"SQLite {Version}, Walden's build ({LoadedPath ?? NativeLoader.WaldenPath})"
        : $"SQLite {Version}, a stock build ({LoadedPath ?? "e_sqlite3"}; " +
          $"used because {NativeLoader.StockReason ?? "another library was bound first"})";

    /// <summary>What Walden's build has and the loaded library lacks; empty when nothing is missing.</summary>
    internal static IReadOnlyList<string> MissingFeatures()
    {
        var missing = new List<string>();
        if (raw.sqlite3_compileoption_used("ENABLE_DBSTAT_VTAB") == 0)
        {
            missing.Add("the dbstat virtual table (SQLITE_ENABLE_DBSTAT_VTAB)");
        }

        if (raw.sqlite3_compileoption_used("ENABLE_DBPAGE_VTAB") == 0)
        {
            missing.Add("the sqlite_dbpage virtual table (SQLITE_ENABLE_DBPAGE_VTAB)");
        }

        var hasRecover = LoadedPath is { } path && NativeLibrary.TryLoad(path, out var handle)
            && Exports(handle, "sqlite3_recover_init", "sqlite3_dbdata_init");
        if (!hasRecover)
        {
            missing.Add("the recover extension (sqlite3_recover_init, sqlite3_dbdata_init)");
        }

        return missing;
    }

    /// <summary>Refuses <paramref name="feature"/> on a library that lacks what it needs, naming what is missing.</summary>
    /// <exception cref="WaldenConfigurationException">The loaded SQLite is not Walden's build and lacks a needed part.</exception>
    internal static void RequireWaldenBuild(string feature)
    {
        var missing = MissingFeatures();
        if (missing.Count > 0)
        {
            throw new WaldenConfigurationException(
                $"{feature} needs Walden's own SQLite build, but this process runs on {Description}. " +
                $"That library lacks {string.Join(", ", missing)}. " +
                $"Walden's build ships for linux-x64 in the Walden package ({NativeLoader.WaldenFileName}); run this on linux-x64 " +
                $"without {NativeLoader.ChoiceVariable}=stock, or use the walden tool there.");
        }
    }

    private static bool Exports(IntPtr handle, params string[] names)
    {
        try
        {
            return names.All(name => NativeLibrary.TryGetExport(handle, name, out _));
        }
        finally
        {
            NativeLibrary.Free(handle);
        }
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
        if (NativeLoader.WaldenPath is { } walden && LoadedPath is { } loaded && loaded != walden)
        {
            // Walden's own calls (busy handler, WAL hook) would go to another library than the connection handles came from.
            throw new WaldenConfigurationException(
                $"SQLitePCLRaw was bound to '{loaded}' before Walden could bind it to its own build '{walden}': another resolver was " +
                "registered for SQLitePCLRaw.provider.e_sqlite3 first. " +
                "Remove that resolver, or touch a Walden type before any other SQLite code runs.");
        }

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
                $"Make sure {NativeLoader.WaldenFileName} (from the Walden package, or built by native/build.sh) " +
                "sits in the application folder, " +
                $"or that the stock library comes from the SQLite package 3.53.0 or later.");
        }
    }
}
