using System.IO.MemoryMappedFiles;
using Walden.Native;

namespace Walden.Diagnostics.Doctor;

/// <summary>What the probe on a scratch file found.</summary>
/// <param name="LocksWork">POSIX byte-range locks can be taken, and a second open file description sees them (as another process would).</param>
/// <param name="SharedMemoryWorks">The file can be memory-mapped shared, and a write through the map is what a plain read sees.</param>
/// <param name="Problem">What failed, in words; null when both work.</param>
/// <param name="NotProbed">Why nothing was tried (the scratch file's blocks could not be written: a full disk); null when probed.</param>
internal sealed record ProbeResult(bool LocksWork, bool SharedMemoryWorks, string? Problem, string? NotProbed = null);

/// <summary>
/// Tries, on a scratch file of its own beside the database (never on the database or its companions), the two things SQLite
/// needs from a file system: POSIX byte-range locks that another opener sees (tested with open file description locks, which
/// conflict between two descriptors of one process exactly as classic locks conflict between processes), and a shared memory
/// map of the file (WAL's -shm). What one host cannot test: whether locks and the map are shared with other machines.
/// </summary>
internal static unsafe class FileSystemProbe
{
    private const int FOfdGetLk = 36;
    private const int FOfdSetLk = 37;
    private const int MapBytes = 32 * 1024;

    /// <summary>Runs the probe in <paramref name="folder"/>; null when no scratch file can be created there (a read-only folder).</summary>
    internal static ProbeResult? Run(string folder, string databaseName)
    {
        var scratch = Path.Combine(folder, $".{databaseName}.walden-doctor-{Environment.ProcessId}");
        try
        {
            using var create = new FileStream(scratch, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite);
            try
            {
                // Written, not only sized: a sparse file's first write through the map would need a block, and on a full disk
                // the kernel answers that with SIGBUS, which kills the process (.NET cannot catch it).
                create.Write(new byte[MapBytes]);
                create.Flush(flushToDisk: true);
            }
            catch (IOException ex)
            {
                create.Dispose();
                File.Delete(scratch); // the probe's own file
                return new ProbeResult(false, false, null, $"a {MapBytes / 1024} KiB scratch file could not be written beside the database ({ex.Message.TrimEnd('.')})");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        try
        {
            var locks = ProbeLocks(scratch);
            var memory = ProbeSharedMemory(scratch);
            var problem = string.Join("; ", new[] { locks, memory }.OfType<string>());
            return new ProbeResult(locks is null, memory is null, problem.Length == 0 ? null : problem);
        }
        finally
        {
            File.Delete(scratch); // the probe's own file
        }
    }

    private static string? ProbeLocks(string scratch)
    {
        var first = Posix.Open(scratch, Posix.ORdWr);
        var second = Posix.Open(scratch, Posix.ORdWr);
        try
        {
            if (first < 0 || second < 0)
            {
                return "the scratch file could not be opened twice";
            }

            var take = new Posix.Flock { Type = Posix.FWrLck, Whence = 0, Start = 120, Length = 1 };
            if (Posix.Fcntl(first, FOfdSetLk, &take) != 0)
            {
                return $"a byte-range lock could not be taken (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})";
            }

            var ask = new Posix.Flock { Type = Posix.FWrLck, Whence = 0, Start = 120, Length = 1 };
            if (Posix.Fcntl(second, FOfdGetLk, &ask) != 0 || ask.Type == Posix.FUnLck)
            {
                return "a byte-range lock taken through one descriptor was not seen through another: locks are not enforced here";
            }

            // Classic (process-owned) locks, the kind SQLite takes, must be accepted too.
            var classic = new Posix.Flock { Type = Posix.FRdLck, Whence = 0, Start = 200, Length = 1 };
            return Posix.Fcntl(second, Posix.FSetLk, &classic) == 0
                ? null
                : $"a POSIX lock (fcntl F_SETLK) was refused (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})";
        }
        finally
        {
            if (first >= 0)
            {
                Posix.Close(first);
            }

            if (second >= 0)
            {
                Posix.Close(second);
            }
        }
    }

    private static string? ProbeSharedMemory(string scratch)
    {
        try
        {
            using (var map = MemoryMappedFile.CreateFromFile(scratch, FileMode.Open, null, MapBytes, MemoryMappedFileAccess.ReadWrite))
            using (var view = map.CreateViewAccessor(0, MapBytes, MemoryMappedFileAccess.ReadWrite))
            {
                view.Write(4096, 0x57616c64656e2121L);
                view.Flush();
            }

            var bytes = File.ReadAllBytes(scratch);
            return BitConverter.ToInt64(bytes, 4096) == 0x57616c64656e2121L
                ? null
                : "a write through a shared memory map did not reach the file: WAL's -shm cannot work here";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return $"the file could not be memory-mapped shared ({ex.Message}): WAL mode cannot work here";
        }
    }
}
