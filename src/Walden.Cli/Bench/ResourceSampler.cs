namespace Walden.Cli.Bench;

/// <summary>
/// Samples, on a thread of its own, the size of a database's -wal file (from file metadata only: a
/// stat, never an open, so no lock of SQLite's is disturbed) and the process's memory. It counts what
/// it allocates itself, so the scenario's allocations per write can leave the sampler out.
/// </summary>
internal sealed class ResourceSampler : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);
    private readonly string _walPath;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new();
    private long _ownAllocations;

    private ResourceSampler(string databasePath)
    {
        _walPath = databasePath + "-wal";
        _thread = new Thread(Run) { IsBackground = true, Name = "walden-bench-sampler" };
    }

    internal long PeakWalBytes { get; private set; }

    internal long PeakWorkingSetBytes { get; private set; }

    internal long PeakManagedHeapBytes { get; private set; }

    /// <summary>Bytes the sampler thread allocated; valid after <see cref="Dispose"/>.</summary>
    internal long OwnAllocatedBytes => Volatile.Read(ref _ownAllocations);

    internal static ResourceSampler Start(string databasePath)
    {
        var sampler = new ResourceSampler(databasePath);
        sampler.Sample();
        sampler._thread.UnsafeStart();
        return sampler;
    }

    private void Run()
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        while (!_stop.Wait(Interval))
        {
            Sample();
        }

        Sample();
        Volatile.Write(ref _ownAllocations, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private void Sample()
    {
        PeakWalBytes = Math.Max(PeakWalBytes, Files.DatabaseFiles.SizeOf(_walPath) ?? 0);

        PeakWorkingSetBytes = Math.Max(PeakWorkingSetBytes, Environment.WorkingSet);
        PeakManagedHeapBytes = Math.Max(PeakManagedHeapBytes, GC.GetTotalMemory(forceFullCollection: false));
    }

    public void Dispose()
    {
        if (!_stop.IsSet)
        {
            _stop.Set();
            _thread.Join();
        }

        _stop.Dispose();
    }
}
