using Walden.Archiving;
using Walden.Native;

namespace Walden;

/// <summary>
/// An archive destination in a folder, typically on another disk or a mounted share. The folder itself must exist (it
/// is never created: a missing mount point must fail, not fill the local disk); sub-folders are created as needed.
/// Each object is written to a temporary name and renamed into place without replacing anything; then the object and
/// its folder are fsynced side by side, and <see cref="Put"/> returns only when both are durable. A failed Put removes
/// the object. After a power cut during a Put (which never returned), the object can be there torn; its checksum
/// shows it (restore stops before it and says so). A Sync archive does not Put each batch here: it appends the batch to
/// an append log in the folder (<c>sync-0.wlog</c>, <c>sync-1.wlog</c>) with one fdatasync of preallocated blocks, and
/// seals the log into ordinary segments off the writer's path; every reader of the folder sees the log's records.
/// </summary>
public sealed class WaldenFolderDestination : IWaldenArchiveDestination
{
    private const string TemporarySuffix = ".partial";
    private ArchiveAppendLog? _log;

    /// <summary>Creates a destination for <paramref name="path"/>.</summary>
    /// <param name="path">The archive folder (absolute, or relative to the current directory).</param>
    public WaldenFolderDestination(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
    }

    /// <summary>The full path of the archive folder.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public string Name => Path;

    /// <summary>Tests: called in <see cref="Put"/> with the object's path once it has its name, before it is made durable.</summary>
    internal Action<string>? AfterRename { get; init; }

    /// <inheritdoc />
    public void Put(string name, Stream content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var target = Resolve(name);
        EnsureRoot();
        var folder = System.IO.Path.GetDirectoryName(target)!;
        if (!Directory.Exists(folder))
        {
            Directory.CreateDirectory(folder);
            Posix.FsyncDirectory(Path);
        }

        var temporary = target + TemporarySuffix;
        // FileShare.Read: the handle stays open through the fsync below, after the rename, and a restore, verify or drill
        // reading the object meanwhile (it is whole: written before the rename) must not find it locked.
        using var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        try
        {
            content.CopyTo(file);
            file.Flush(flushToDisk: false);
            File.Move(temporary, target, overwrite: false);
            AfterRename?.Invoke(target);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }

        // The name is in place; now the object's bytes and its name are made durable side by side (one fsync's wait, not
        // two in a row). Put returns only once both are: until then nobody counts the object as stored. A power cut in
        // between can leave the name with a torn object: restore and verify find it by its checksum and stop before it,
        // and only a Put that never returned (nothing acknowledged depends on it) can leave one.
        try
        {
            var folderSync = Task.Factory.StartNew(() => Posix.FsyncDirectory(folder), CancellationToken.None,
                TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);
            try
            {
                file.Flush(flushToDisk: true);
            }
            finally
            {
                folderSync.GetAwaiter().GetResult();
            }
        }
        catch
        {
            TryDelete(target); // not known to be durable: gone rather than half-there
            throw;
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<WaldenArchiveObject> List(string prefix)
    {
        EnsureRoot();
        var result = new List<WaldenArchiveObject>();
        foreach (var file in Directory.EnumerateFiles(Path, "*", SearchOption.AllDirectories))
        {
            if (file.EndsWith(TemporarySuffix, StringComparison.Ordinal))
            {
                continue;
            }

            var name = System.IO.Path.GetRelativePath(Path, file).Replace(System.IO.Path.DirectorySeparatorChar, '/');
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                result.Add(new WaldenArchiveObject(name, new FileInfo(file).Length));
            }
        }

        return result;
    }

    /// <inheritdoc />
    public Stream OpenRead(string name)
    {
        var path = Resolve(name);
        Files.FileKind.EnsureRegular(path, "an archive object"); // a named pipe would block the open forever
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16);
    }

    /// <inheritdoc />
    public void Delete(string name)
    {
        var target = Resolve(name);
        File.Delete(target);
        var folder = System.IO.Path.GetDirectoryName(target)!;
        if (folder != Path && Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
        {
            Directory.Delete(folder);
        }
    }

    /// <inheritdoc />
    public override string ToString() => Path;

    /// <summary>
    /// The append log a Sync archive stores each batch in (Archiving/ArchiveAppendLog.cs), created at first use. Set
    /// <see cref="UseAppendLog"/> to false for one segment object per Sync batch (what an object store does).
    /// </summary>
    internal ArchiveAppendLog AppendLog => LazyInitializer.EnsureInitialized(ref _log, () => new ArchiveAppendLog(this));

    /// <summary>False: a Sync archive stores each batch as its own segment object (tests of that path). Default true.</summary>
    internal bool UseAppendLog { get; init; } = true;

    /// <summary>The append log's valid records as on disk (through this process's log when it has one, so no append is read half-done).</summary>
    internal LogRead ReadLog(bool keepBytes = true) => _log is { } log ? log.Read(keepBytes) : ArchiveAppendLog.ReadFiles(Path, keepBytes);

    internal void EnsureRoot()
    {
        if (FolderProblem(Path, writing: true) is { } problem)
        {
            throw new DirectoryNotFoundException(problem);
        }
    }

    /// <summary>
    /// Why <paramref name="path"/> cannot be used as an archive folder, saying what to give instead, or null when it is a
    /// folder: it does not exist, it is a file (a file inside an archive names that archive's folder), or a folder on its
    /// path is a file. <paramref name="writing"/>: for a destination to archive into (else: an archive to read).
    /// </summary>
    internal static string? FolderProblem(string path, bool writing)
    {
        var full = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            return File.Exists(System.IO.Path.Combine(full, ArchiveFormat.BaseFileName)) && System.IO.Path.GetDirectoryName(full) is { } archive
                ? $"'{full}' is the folder of one base snapshot inside the archive folder '{archive}', not an archive folder itself. " +
                  $"Give the archive's folder: '{archive}'."
                : null;
        }

        if (File.Exists(full))
        {
            if (ArchiveAbove(full) is { } archive)
            {
                return $"'{full}' is a file inside the archive folder '{archive}', not an archive folder itself. Give the archive's folder: '{archive}'.";
            }

            return writing
                ? $"The archive folder '{full}' is a file, not a folder. An archive needs a folder of its own (Walden writes base snapshots " +
                  $"and segments into it): create an empty folder, e.g. '{full}.archive', and give that."
                : $"'{full}' is a file, not an archive folder. An archive is the folder that WaldenOptions.Archive (or " +
                  "'walden demo --archive') wrote: it holds 'archive-of', a folder per base snapshot and its .wseg segments. Give that folder.";
        }

        for (var parent = System.IO.Path.GetDirectoryName(full); parent is not null; parent = System.IO.Path.GetDirectoryName(parent))
        {
            if (File.Exists(parent))
            {
                return $"The archive folder '{full}' cannot exist: '{parent}' on its path is a file, not a folder. Check the path.";
            }

            if (Directory.Exists(parent))
            {
                break;
            }
        }

        return writing
            ? $"The archive folder '{full}' does not exist. Create it (or mount the disk it lives on); Walden does not create it, " +
              "so that a missing mount never fills the local disk instead."
            : $"The archive folder '{full}' does not exist. Check the path (or mount the disk it lives on).";
    }

    /// <summary>The archive folder <paramref name="file"/> lies in (up to two levels up: a segment in its base's folder), or null.</summary>
    internal static string? ArchiveAbove(string file)
    {
        var folder = System.IO.Path.GetDirectoryName(file);
        for (var level = 0; level < 2 && folder is not null; level++, folder = System.IO.Path.GetDirectoryName(folder))
        {
            if (IsArchive(folder))
            {
                return folder;
            }
        }

        return null;
    }

    /// <summary>
    /// Whether the existing folder <paramref name="folder"/> holds what only an archive holds: its <c>archive-of</c> marker, a
    /// lineage, a Sync append log, or a base snapshot's folder (or one holding segments whose base is gone).
    /// </summary>
    internal static bool IsArchive(string folder) =>
        File.Exists(System.IO.Path.Combine(folder, Archiver.ArchiveOfFile)) ||
        Directory.EnumerateFiles(folder, ArchiveLineage.Prefix + "*").Any() ||
        ArchiveAppendLog.FileNames.Any(n => File.Exists(System.IO.Path.Combine(folder, n))) ||
        Directory.EnumerateDirectories(folder).Any(d => File.Exists(System.IO.Path.Combine(d, ArchiveFormat.BaseFileName)) || HoldsSegments(d));

    private static bool HoldsSegments(string folder)
    {
        try
        {
            return Directory.EnumerateFiles(folder, "*" + ArchiveFormat.SegmentExtension).Any();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false; // a folder this user may not list is no base folder of an archive it reads
        }
    }

    private string Resolve(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains("..", StringComparison.Ordinal) || name.StartsWith('/'))
        {
            throw new ArgumentException($"'{name}' is not a relative object name.", nameof(name));
        }

        return System.IO.Path.Combine(Path, name.Replace('/', System.IO.Path.DirectorySeparatorChar));
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
