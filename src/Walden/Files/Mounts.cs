using System.Globalization;
using System.Runtime.InteropServices;

namespace Walden.Files;

/// <summary>
/// What the file system says about a path that permissions do not: whether its mount is read-only (statvfs ST_RDONLY, which
/// denies writing to root too), whether the file is immutable or append-only (statx attributes, as chattr sets them), how
/// much room is left, and which mount it is on. Asked by path only: no descriptor is opened on a database or a companion, so
/// no lock of SQLite's in this process can be dropped by a close.
/// </summary>
internal static unsafe partial class Mounts
{
    private const int StatvfsBytes = 256;
    private const int FlagOffset = 72; // struct statvfs on 64-bit Linux: f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree, f_favail, f_fsid, f_flag
    private const ulong StRdOnly = 1;
    private const int StatxBytes = 256;
    private const int AtFdCwd = -100;
    private const ulong StatxAttrImmutable = 0x10;
    private const ulong StatxAttrAppend = 0x20;

    /// <summary>True when <paramref name="path"/> (a file or a folder) is on a file system mounted read-only.</summary>
    internal static bool IsReadOnlyMount(string path)
    {
        var buffer = stackalloc byte[StatvfsBytes];
        return Statvfs(ExistingAncestor(path), buffer) == 0 && (*(ulong*)(buffer + FlagOffset) & StRdOnly) != 0;
    }

    /// <summary>Bytes free for this user on the file system of <paramref name="path"/>, or null when it cannot be told.</summary>
    internal static long? FreeBytes(string path)
    {
        var buffer = stackalloc byte[StatvfsBytes];
        return Statvfs(ExistingAncestor(path), buffer) == 0 ? (long)(*(ulong*)(buffer + 32) * *(ulong*)(buffer + 8)) : null;
    }

    /// <summary>Files (inodes) that may still be created on the file system of <paramref name="path"/>, or null.</summary>
    internal static long? FreeFiles(string path)
    {
        var buffer = stackalloc byte[StatvfsBytes];
        return Statvfs(ExistingAncestor(path), buffer) == 0 ? (long)*(ulong*)(buffer + 56) : null;
    }

    /// <summary>"immutable" or "append-only" when chattr set that attribute on <paramref name="path"/>; else null.</summary>
    internal static string? Attribute(string path)
    {
        var buffer = stackalloc byte[StatxBytes];
        if (StatxNative(AtFdCwd, path, 0, 0, buffer) != 0)
        {
            return null;
        }

        var attributes = *(ulong*)(buffer + 8);
        return (attributes & StatxAttrImmutable) != 0 ? "immutable" : (attributes & StatxAttrAppend) != 0 ? "append-only" : null;
    }

    /// <summary>The mount point <paramref name="path"/> is on (the longest that contains it, links resolved), or "/".</summary>
    internal static string MountOf(string path) => Diagnostics.Doctor.FileSystems.Of(ExistingAncestor(path))?.MountPoint ?? "/";

    /// <summary>
    /// Why nobody, root included, can write <paramref name="path"/> (a file or a folder) whatever its permissions: a read-only
    /// mount or an immutable or append-only attribute, as a sentence that names it and says what to change; null otherwise
    /// (then permissions are the reason, if any).
    /// </summary>
    internal static string? WhyUnwritable(string path)
    {
        if (IsReadOnlyMount(path))
        {
            var mount = MountOf(path);
            return $"'{path}' is on a file system mounted read-only ('{mount}'): it is not writable for anyone, not even root, whatever " +
                $"the permissions. Remount it read-write (mount -o remount,rw '{mount}'), or copy the database to a writable disk.";
        }

        return Attribute(path) is { } attribute
            ? $"'{path}' is {attribute} (chattr +{(attribute == "immutable" ? "i" : "a")}): nobody, not even root, can change it, whatever " +
              $"its permissions. Remove the attribute (chattr -{(attribute == "immutable" ? "i" : "a")} '{path}', as root) if it should be written."
            : null;
    }

    /// <summary>How much is free on the mount of <paramref name="path"/>, as words ("12,288 bytes free on '/data'").</summary>
    internal static string DescribeFree(string path) => FreeBytes(path) is { } free
        ? string.Create(CultureInfo.InvariantCulture, $"{free:N0} bytes free on '{MountOf(path)}'")
        : $"the file system of '{MountOf(path)}'";

    private static string ExistingAncestor(string path)
    {
        var current = Path.GetFullPath(path);
        while (!File.Exists(current) && !Directory.Exists(current) && Path.GetDirectoryName(current) is { } parent)
        {
            current = parent;
        }

        return current;
    }

    [LibraryImport("libc", EntryPoint = "statvfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statvfs(string path, byte* buffer);

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int StatxNative(int directory, string path, int flags, uint mask, byte* buffer);
}
