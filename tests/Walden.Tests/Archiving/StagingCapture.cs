using Walden.Archiving;

namespace Walden.Tests.Archiving;

/// <summary>
/// A folder destination that keeps the staging folder's page map and pages in flight as they were at chosen stores: what a
/// SIGKILL right then leaves beside the database, for a test to put back before the next open (Archiving/Archiver.Continue.cs).
/// </summary>
internal sealed class StagingCapture(string folder, string databasePath) : IWaldenArchiveDestination
{
    private readonly WaldenFolderDestination _inner = new(folder);
    private int _bases;

    public string Name => _inner.Name;

    /// <summary>The page map and the pages in flight (each empty when there was none) just before each segment's store, in order.</summary>
    public List<(string Segment, byte[] Map, byte[] InFlight)> AtStores { get; } = [];

    /// <summary>The last of <see cref="AtStores"/> (empty before any).</summary>
    public (byte[] Map, byte[] InFlight) AtLastStore => AtStores.Count == 0 ? ([], []) : (AtStores[^1].Map, AtStores[^1].InFlight);

    /// <summary>The two files right after the second base this destination stored (a side base, or an open's base), or null.</summary>
    public (byte[] Map, byte[] InFlight)? AfterSecondBase { get; private set; }

    public void Put(string name, Stream content)
    {
        if (name.EndsWith(".wseg", StringComparison.Ordinal))
        {
            var (map, inFlight) = Read();
            AtStores.Add((name, map, inFlight));
        }

        _inner.Put(name, content);
        if (name.EndsWith(ArchiveFormat.BaseFileName, StringComparison.Ordinal) && ++_bases == 2)
        {
            AfterSecondBase = Read();
        }
    }

    public IReadOnlyList<WaldenArchiveObject> List(string prefix) => _inner.List(prefix);

    public Stream OpenRead(string name) => _inner.OpenRead(name);

    public void Delete(string name) => _inner.Delete(name);

    private (byte[] Map, byte[] InFlight) Read()
    {
        var staging = ArchiveLineage.StagingFolder(databasePath);
        return (ReadIfThere(Path.Combine(staging, PageMap.FileName)), ReadIfThere(Path.Combine(staging, PagesInFlight.FileName)));
    }

    /// <summary>
    /// A file's bytes, or none when it is not there: the page map is saved only after the first round every destination
    /// stored, so a segment stored in the same round as the base finds none yet (as a kill then would leave).
    /// </summary>
    private static byte[] ReadIfThere(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            return [];
        }
    }
}
