namespace Walden.Files;

/// <summary>
/// Marks temporary files as belonging to a running Walden operation, so that the next run can tell abandoned ones
/// (left by a process that was killed) from those of an operation still running. The owner file
/// (<c>&lt;base&gt;.owner</c>, holding the process id for people) is held open with <see cref="FileShare.None"/>, which
/// .NET on Linux backs with an exclusive advisory lock (flock): the kernel releases it when the process dies, however
/// it dies. An owner file that can be opened exclusively therefore belongs to no living process: provably abandoned.
/// Never used on database files (SQLite does not use flock, and these files are Walden's own temporary copies).
/// </summary>
internal sealed class OwnerLock : IDisposable
{
    internal const string Suffix = ".owner";

    private readonly FileStream _stream;

    private OwnerLock(FileStream stream)
    {
        _stream = stream;
    }

    internal string Path => _stream.Name;

    /// <summary>Claims <paramref name="basePath"/>: its temporary files are this process's until <see cref="Dispose"/>.</summary>
    internal static OwnerLock Claim(string basePath)
    {
        var stream = new FileStream(basePath + Suffix, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
        try
        {
            using (var writer = new StreamWriter(stream, leaveOpen: true))
            {
                writer.Write(Environment.ProcessId);
            }

            stream.Flush();
            return new OwnerLock(stream);
        }
        catch (IOException ex)
        {
            // The file was created by this call and is still held by it (a full disk fails the write of the process id):
            // it is removed before the claim fails, or it would be left beside the user's files.
            File.Delete(stream.Name);
            try
            {
                stream.Dispose(); // flushes the unwritten id again, which fails the same way
            }
            catch (IOException)
            {
            }

            if (Errors.DiskSpace.IsFull(ex))
            {
                // The owner file is Walden's bookkeeping, not what the user must make room for: the folder is named.
                var folder = System.IO.Path.GetDirectoryName(stream.Name)!;
                throw new IOException($"No space left on device: the disk holding '{folder}' is full ({Mounts.DescribeFree(folder)})", 28);
            }

            throw;
        }
    }

    /// <summary>
    /// Removes what abandoned operations left in <paramref name="folder"/>: for each owner file matching
    /// <paramref name="ownerPattern"/> that no living process holds, the entries starting with its base name that
    /// <paramref name="isTemporary"/> accepts, then the owner file. Entries of a running operation are left alone.
    /// </summary>
    /// <returns>The entries removed.</returns>
    internal static List<string> RemoveAbandoned(string folder, string ownerPattern, Func<string, bool> isTemporary)
    {
        var removed = new List<string>();
        if (!Directory.Exists(folder))
        {
            return removed;
        }

        foreach (var owner in Directory.EnumerateFiles(folder, ownerPattern))
        {
            FileStream held;
            try
            {
                held = new FileStream(owner, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                continue; // held: its operation is running
            }
            catch (UnauthorizedAccessException)
            {
                continue; // another user's: not ours to judge
            }

            using (held)
            {
                var basePath = owner[..^Suffix.Length];
                var baseName = System.IO.Path.GetFileName(basePath);
                foreach (var entry in Directory.EnumerateFileSystemEntries(folder, baseName + "*").Where(isTemporary))
                {
                    if (Directory.Exists(entry))
                    {
                        Directory.Delete(entry, recursive: true);
                    }
                    else
                    {
                        File.Delete(entry);
                    }

                    removed.Add(entry);
                }

                File.Delete(owner); // while still held, so nobody claims it in between
            }
        }

        return removed;
    }

    /// <summary>Releases the claim and removes the owner file.</summary>
    public void Dispose()
    {
        try
        {
            File.Delete(_stream.Name);
        }
        finally
        {
            _stream.Dispose();
        }
    }
}
