using System.Globalization;
using Walden.Checkpointing;
using Walden.Files;

namespace Walden.Diagnostics.Doctor;

/// <summary>One descriptor another process has on a file of the database.</summary>
/// <param name="Descriptor">The descriptor number: <c>/proc/&lt;pid&gt;/fd/&lt;n&gt;</c> still reads the file while the process lives.</param>
/// <param name="File">The database, -wal, -shm or -journal path it is on.</param>
/// <param name="Deleted">True when that file was deleted (or replaced) while the descriptor stayed open.</param>
internal sealed record HeldFile(int Descriptor, string File, bool Deleted);

/// <summary>A process (not this one) with the database, its -wal, -shm or -journal open.</summary>
/// <param name="ProcessId">Its process id.</param>
/// <param name="CommandLine">Its command line, or null when it cannot be read.</param>
/// <param name="Files">Its descriptors on the database's files.</param>
internal sealed record DatabaseHolder(int ProcessId, string? CommandLine, IReadOnlyList<HeldFile> Files)
{
    public override string ToString() => CommandLine is { } command ? $"process {ProcessId} ({command})" : $"process {ProcessId}";
}

/// <summary>
/// Finds every process that has a file of the database open, from <c>/proc/&lt;pid&gt;/fd</c>: by device and inode (stat follows
/// each descriptor's link; nothing is opened, so no lock of anyone is touched) and, for files deleted while open, by the
/// link's text ("&lt;path&gt; (deleted)"). Processes of other users are visible only to root. Linux only.
/// </summary>
internal static class DatabaseHolders
{
    private const string DeletedSuffix = " (deleted)";

    /// <summary>The processes other than this one holding <paramref name="database"/> or a companion, in process id order.</summary>
    internal static IReadOnlyList<DatabaseHolder> Find(string database)
    {
        if (!Directory.Exists("/proc/self/fd"))
        {
            return [];
        }

        var names = new[] { database, database + "-wal", database + "-shm", database + "-journal" };
        var ids = new Dictionary<FileId, string>();
        foreach (var name in names)
        {
            if (FileId.Of(name) is { } id)
            {
                ids[id] = name;
            }
        }

        var holders = new List<DatabaseHolder>();
        var self = Environment.ProcessId;
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == self)
            {
                continue;
            }

            var held = new List<HeldFile>();
            try
            {
                foreach (var descriptor in Directory.EnumerateFileSystemEntries(Path.Combine(folder, "fd")))
                {
                    if (Held(descriptor, names, ids) is { } file)
                    {
                        held.Add(file);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue; // ended meanwhile, or another user's process seen by a user that is not root
            }

            if (held.Count > 0)
            {
                holders.Add(new DatabaseHolder(pid, WalReaderProcesses.CommandLineOf(pid), held.OrderBy(h => h.Descriptor).ToList()));
            }
        }

        return holders.OrderBy(h => h.ProcessId).ToList();
    }

    private static HeldFile? Held(string descriptor, string[] names, Dictionary<FileId, string> ids)
    {
        if (!int.TryParse(Path.GetFileName(descriptor), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return null;
        }

        string? target;
        try
        {
            target = new FileInfo(descriptor).LinkTarget;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        if (target is null || !target.StartsWith('/'))
        {
            return null; // a pipe, a socket, an anonymous inode
        }

        if (target.EndsWith(DeletedSuffix, StringComparison.Ordinal))
        {
            var name = target[..^DeletedSuffix.Length];
            return names.Contains(name, StringComparer.Ordinal) && FileId.Of(descriptor) is { } old && !ids.ContainsKey(old)
                ? new HeldFile(number, name, Deleted: true)
                : null;
        }

        return FileId.Of(descriptor) is { } id && ids.TryGetValue(id, out var file) ? new HeldFile(number, file, Deleted: false) : null;
    }
}
