using System.Runtime.InteropServices;
using System.Text;
using Walden.Native;

namespace Walden.Cli.Faults;

/// <summary>
/// The fault-injecting SQLite VFS of native/faultvfs.c (<c>libwalden_faultvfs.so</c>), for tests, <c>walden torture
/// --power-loss</c> and a simulated slow disk. The engine never loads it: only this class does, when a test or a command
/// asks, or when <see cref="Variable"/> is set for a <c>walden</c> process. It wraps SQLite's <c>unix</c> VFS and becomes the
/// default VFS of Walden's SQLite in this process. It exists in a source build only (beside the tool, never packed).
/// </summary>
internal static class FaultVfs
{
    /// <summary>The library's file name, beside the application in a source build.</summary>
    internal const string FileName = "libwalden_faultvfs.so";

    /// <summary>
    /// Set to a spec (e.g. <c>latency_us=5000</c> for a 5 ms fsync, <c>dir=/data/;eio_fsync=0.01;seed=7</c>) to run any
    /// <c>walden</c> command, the torture workers and <c>walden bench</c> included, on the fault VFS. Keys: see
    /// <c>walden_fault_configure</c> in native/faultvfs.c.
    /// </summary>
    internal const string Variable = "WALDEN_FAULT_VFS";

    private static readonly Lock Gate = new();
    private static Api? _api;

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int RegisterFn(IntPtr find, IntPtr register, [MarshalAs(UnmanagedType.LPUTF8Str)] string spec);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int UnregisterFn(IntPtr unregister);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int ConfigureFn([MarshalAs(UnmanagedType.LPUTF8Str)] string spec);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate long CounterFn(int which);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int PowerCutFn([MarshalAs(UnmanagedType.LPUTF8Str)] string dir, ulong seed, double keep, double drop, byte[] report, int length);

    private sealed record Api(RegisterFn Register, UnregisterFn Unregister, ConfigureFn Configure, CounterFn Counter, PowerCutFn PowerCut);

    /// <summary>The path the library is looked for at.</summary>
    internal static string LibraryPath => Path.Combine(AppContext.BaseDirectory, FileName);

    /// <summary>
    /// Makes the fault VFS the default VFS of Walden's SQLite in this process (once; later calls reconfigure) with
    /// <paramref name="spec"/>. Connections opened before keep the VFS they were opened with.
    /// </summary>
    /// <exception cref="InvalidOperationException">The library is missing (not a source build), this process runs on the
    /// stock SQLite, or the spec is not understood.</exception>
    internal static void Register(string spec)
    {
        var api = Load();
        var sqlite = NativeLoader.WaldenPath
            ?? throw new InvalidOperationException($"The fault VFS needs Walden's own SQLite build, and this process runs on the stock library ({NativeLoader.StockReason}).");
        var handle = NativeLibrary.Load(sqlite); // the library already loaded: same handle, one more reference
        var rc = api.Register(NativeLibrary.GetExport(handle, "sqlite3_vfs_find"), NativeLibrary.GetExport(handle, "sqlite3_vfs_register"), spec);
        if (rc != 0)
        {
            throw new InvalidOperationException($"The fault VFS refused the spec '{spec}' (SQLite result code {rc}); see native/faultvfs.c for the keys.");
        }
    }

    /// <summary>Takes the fault VFS out again: "unix" is the default VFS again for connections opened from now on.</summary>
    internal static void Unregister()
    {
        var handle = NativeLibrary.Load(NativeLoader.WaldenPath!);
        var rc = Load().Unregister(NativeLibrary.GetExport(handle, "sqlite3_vfs_unregister"));
        if (rc != 0)
        {
            throw new InvalidOperationException($"The fault VFS could not be unregistered (SQLite result code {rc}).");
        }
    }

    /// <summary>Replaces the faults (and resets the counters and a frozen disk) of the registered fault VFS.</summary>
    internal static void Configure(string spec)
    {
        var rc = Load().Configure(spec);
        if (rc != 0)
        {
            throw new InvalidOperationException($"The fault VFS refused the spec '{spec}' (SQLite result code {rc}); see native/faultvfs.c for the keys.");
        }
    }

    /// <summary>A counter since the last configuration.</summary>
    internal static long Counter(FaultCounter which) => Load().Counter((int)which);

    /// <summary>
    /// Applies a power cut to the files of <paramref name="folder"/> with undo logs: each unsynced sector keeps its new
    /// bytes with probability <paramref name="keep"/>, returns to its synced bytes with <paramref name="drop"/>, and is
    /// garbage otherwise. Only once no process writes there any more.
    /// </summary>
    /// <returns>A one-line account of what the cut did.</returns>
    internal static string PowerCut(string folder, ulong seed, double keep, double drop)
    {
        var report = new byte[512];
        var files = Load().PowerCut(Path.GetFullPath(folder), seed, keep, drop, report, report.Length);
        if (files < 0)
        {
            throw new InvalidOperationException($"The power cut could not read the folder '{folder}'.");
        }

        return Encoding.UTF8.GetString(report, 0, Array.IndexOf(report, (byte)0) is var end and >= 0 ? end : report.Length);
    }

    /// <summary>Registers the fault VFS when <see cref="Variable"/> is set; called once at the start of the CLI.</summary>
    /// <returns>The spec applied, or null when the variable is not set.</returns>
    internal static string? RegisterFromEnvironment()
    {
        var spec = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(spec))
        {
            return null;
        }

        Register(spec);
        return spec;
    }

    private static Api Load()
    {
        lock (Gate)
        {
            if (_api is not null)
            {
                return _api;
            }

            if (!File.Exists(LibraryPath))
            {
                throw new InvalidOperationException(
                    $"The fault VFS ({FileName}) is not beside this program ({AppContext.BaseDirectory}): it is built with the source " +
                    "(native/build.sh) for tests and 'walden torture --power-loss', and is not part of the packages. Run from a clone.");
            }

            var library = NativeLibrary.Load(LibraryPath);
            T Export<T>(string name) => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(library, name));
            _api = new Api(Export<RegisterFn>("walden_fault_register"), Export<UnregisterFn>("walden_fault_unregister"), Export<ConfigureFn>("walden_fault_configure"),
                Export<CounterFn>("walden_fault_counter"), Export<PowerCutFn>("walden_fault_power_cut"));
            return _api;
        }
    }
}

/// <summary>The counters of the fault VFS (since its last configuration).</summary>
internal enum FaultCounter
{
    /// <summary>Writes to tracked files.</summary>
    Writes = 0,

    /// <summary>Syncs of tracked files.</summary>
    Syncs = 1,

    /// <summary>Reads of tracked files.</summary>
    Reads = 2,

    /// <summary>Faults injected (EIO, ENOSPC, short writes).</summary>
    Faults = 3,

    /// <summary>Writes, truncates and syncs refused because the disk was frozen by a cut.</summary>
    FrozenRefusals = 4,

    /// <summary>1 when the disk is frozen (cut_after_writes/syncs reached), else 0.</summary>
    Frozen = 5,
}
