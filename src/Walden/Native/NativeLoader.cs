using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.InteropServices;
using SQLitePCL;

namespace Walden.Native;

/// <summary>
/// Decides which native SQLite this process runs on, before the first SQLite call: Walden's own build,
/// loaded by its full path under its own file name (<see cref="WaldenFileName"/>), or, where that build is
/// not available (another operating system or architecture) or the user asked for it, the stock
/// <c>libe_sqlite3</c> of the <c>SQLite</c> package, found the usual way. SQLitePCLRaw's provider asks for
/// "e_sqlite3"; the resolver below answers with the chosen library, so the choice does not depend on
/// load order or on whichever <c>libe_sqlite3.so</c> another package put in the application folder.
/// </summary>
internal static class NativeLoader
{
    /// <summary>The file name of Walden's own build (native/build.sh; in the package under runtimes/&lt;rid&gt;/native/).</summary>
    internal const string WaldenFileName = "libwalden_sqlite3.so";

    /// <summary>The library name SQLitePCLRaw's e_sqlite3 provider and Walden's own P/Invoke declarations ask for.</summary>
    internal const string ProviderLibraryName = "e_sqlite3";

    /// <summary>
    /// Set to <c>stock</c> to run on the stock SQLite even where Walden's build is available (to try what
    /// another platform gets); unset or <c>walden</c> for the default.
    /// </summary>
    internal const string ChoiceVariable = "WALDEN_SQLITE_LIBRARY";

    private static IntPtr _waldenHandle;

    /// <summary>The full path of Walden's build when it was loaded; null when this process runs on the stock SQLite.</summary>
    internal static string? WaldenPath { get; private set; }

    /// <summary>Why the stock SQLite is in use, in words; null when Walden's build is.</summary>
    internal static string? StockReason { get; private set; }

    /// <summary>Chooses and loads the library and registers the resolvers. Called once, by the module initializer.</summary>
    internal static void Initialize()
    {
        var choice = Environment.GetEnvironmentVariable(ChoiceVariable);
        if (string.Equals(choice, "stock", StringComparison.OrdinalIgnoreCase))
        {
            StockReason = $"{ChoiceVariable}=stock is set";
        }
        else if (Find() is { } path)
        {
            _waldenHandle = NativeLibrary.Load(path); // by full path: no search order can substitute another file
            WaldenPath = path;
        }
        else
        {
            StockReason = OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64
                ? $"{WaldenFileName} was not found beside the application (looked in: {string.Join(", ", Candidates())})"
                : $"Walden's own build exists for linux-x64 only and this process runs on {RuntimeInformation.RuntimeIdentifier}";
        }

        TrySetResolver(typeof(SQLite3Provider_e_sqlite3).Assembly);
        TrySetResolver(typeof(NativeLoader).Assembly);
    }

    private static void TrySetResolver(Assembly assembly)
    {
        try
        {
            NativeLibrary.SetDllImportResolver(assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // Someone else set a resolver for this assembly first. SqliteLibrary.EnsureSupported then finds out
            // which library the provider really bound, and refuses if it is not the one Walden's own calls use.
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != ProviderLibraryName)
        {
            return IntPtr.Zero;
        }

        if (_waldenHandle != IntPtr.Zero)
        {
            return _waldenHandle;
        }

        // Stock: the provider's own lookup (deps.json, runtimes/<rid>/native) finds the SQLite package's library;
        // Walden's own declarations get the very same handle, so both sides always talk to one library.
        return NativeLibrary.TryLoad(name, typeof(SQLite3Provider_e_sqlite3).Assembly, searchPath, out var handle) ? handle : IntPtr.Zero;
    }

    /// <summary>The first existing candidate path of Walden's build, or null.</summary>
    private static string? Find() => Candidates().FirstOrDefault(File.Exists);

    /// <summary>
    /// Where Walden's build can sit: the folders the runtime probes for native assets (from deps.json), the
    /// application folder (project references, <c>publish -r</c>), and runtimes/&lt;rid&gt;/native below it and
    /// below Walden.dll's folder (a package restored without a runtime identifier).
    /// </summary>
    internal static IEnumerable<string> Candidates()
    {
        var rid = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => "linux-x64",
            Architecture.Arm64 => "linux-arm64",
            _ => null,
        };
        var folders = new List<string>();
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string probing)
        {
            folders.AddRange(probing.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        }

        foreach (var root in new[] { AppContext.BaseDirectory, WaldenAssemblyFolder() })
        {
            if (!string.IsNullOrEmpty(root))
            {
                folders.Add(root);
                if (rid is not null)
                {
                    folders.Add(Path.Combine(root, "runtimes", rid, "native"));
                }
            }
        }

        return OperatingSystem.IsLinux()
            ? folders.Select(folder => Path.GetFullPath(Path.Combine(folder, WaldenFileName))).Distinct(StringComparer.Ordinal)
            : [];
    }

    /// <summary>
    /// The folder of Walden.dll, when it is a file of its own; null in a single-file or native AOT application, where
    /// Assembly.Location is empty and Walden's build sits in (or is extracted to) the application folder, which
    /// <see cref="Candidates"/> looks in first.
    /// </summary>
    [UnconditionalSuppressMessage("SingleFile", "IL3000:Avoid accessing Assembly file path when publishing as a single file",
        Justification = "The empty Location of a single-file or native AOT application is handled: it gives no folder, and AppContext.BaseDirectory is searched.")]
    private static string? WaldenAssemblyFolder()
    {
        var location = typeof(NativeLoader).Assembly.Location;
        return string.IsNullOrEmpty(location) ? null : Path.GetDirectoryName(location);
    }
}
