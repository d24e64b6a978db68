using System.Runtime.InteropServices;
using Walden.Native;

namespace Walden.Diagnostics.Doctor;

/// <summary>Who owns a file and its permission bits, from stat(2) (nothing is opened).</summary>
/// <param name="UserId">st_uid.</param>
/// <param name="GroupId">st_gid.</param>
/// <param name="Mode">The permission bits (st_mode &amp; 07777).</param>
/// <param name="Links">How many names (hard links) the file has: st_nlink.</param>
internal readonly record struct FileOwner(uint UserId, uint GroupId, int Mode, long Links)
{
    /// <summary>The owner of <paramref name="path"/>, or null when it cannot be stat'ed (or on an architecture whose layout is not known here).</summary>
    internal static unsafe FileOwner? Of(string path)
    {
        // struct stat: x86_64 has st_nlink (8 bytes) before st_mode; arm64 (the generic layout) has st_mode first, then a 4-byte st_nlink.
        var (mode, uid, gid, links) = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => (24, 28, 32, 16),
            Architecture.Arm64 => (16, 24, 28, 20),
            _ => (-1, -1, -1, -1),
        };
        if (mode < 0 || !OperatingSystem.IsLinux())
        {
            return null;
        }

        var buffer = stackalloc byte[Posix.StatBufferBytes];
        if (Posix.Stat(path, buffer) != 0)
        {
            return null;
        }

        var nlink = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? (long)*(ulong*)(buffer + links) : *(uint*)(buffer + links);
        return new FileOwner(*(uint*)(buffer + uid), *(uint*)(buffer + gid), (int)(*(uint*)(buffer + mode) & 0xfff), nlink);
    }

    /// <summary>True when a process running as <paramref name="userId"/> (in group <paramref name="groupId"/>) may write this file, by its bits.</summary>
    internal bool WritableBy(uint userId, uint groupId) =>
        userId == 0 || (userId == UserId ? (Mode & 0x80) != 0 : groupId == GroupId ? (Mode & 0x10) != 0 : (Mode & 0x2) != 0);

    public override string ToString() => $"uid {UserId}, gid {GroupId}, mode {Convert.ToString(Mode, 8)}";
}
