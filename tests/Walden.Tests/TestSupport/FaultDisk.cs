using Walden.Cli.Faults;

namespace Walden.Tests.TestSupport;

/// <summary>
/// The fault-injecting VFS (native/faultvfs.c) as the default VFS of this test process for the files of one folder:
/// undo logs (so a power cut can be modelled) and the faults of <see cref="Set"/>. Files elsewhere pass straight through.
/// Tests using it run in <see cref="FaultVfsCollection"/>, alone: the VFS's configuration is process-wide.
/// </summary>
internal sealed class FaultDisk : IDisposable
{
    private readonly string _folder;

    public FaultDisk(string folder)
    {
        _folder = Path.GetFullPath(folder).TrimEnd('/') + "/";
        FaultVfs.Register(Spec(string.Empty));
    }

    /// <summary>Replaces the faults (e.g. "eio_fsync=1", "seed=3;enospc=0.02"); resets the counters.</summary>
    public void Set(string faults) => FaultVfs.Configure(Spec(faults));

    /// <summary>No faults from now on (undo logs go on); resets the counters.</summary>
    public void Clear() => Set(string.Empty);

    public long Syncs => FaultVfs.Counter(FaultCounter.Syncs);

    public long Writes => FaultVfs.Counter(FaultCounter.Writes);

    public long FaultsInjected => FaultVfs.Counter(FaultCounter.Faults);

    /// <summary>The power cut: only once every connection to the folder's files is closed.</summary>
    public string PowerCut(ulong seed, double keep, double drop) => FaultVfs.PowerCut(_folder, seed, keep, drop);

    public void Dispose()
    {
        FaultVfs.Configure("dir=" + _folder); // tracks only this folder, no undo, no faults, until unregistered
        FaultVfs.Unregister();
    }

    private string Spec(string faults) => $"dir={_folder};undo=1" + (faults.Length > 0 ? ";" + faults : string.Empty);
}

/// <summary>Tests that register the fault VFS: one at a time, and nothing else runs beside them.</summary>
[CollectionDefinition(nameof(FaultVfsCollection), DisableParallelization = true)]
public sealed class FaultVfsCollection;
