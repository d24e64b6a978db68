using System.Globalization;

namespace Walden.Files;

/// <summary>
/// Unix permission bits of the files Walden writes for the user (a restored, recovered or backed-up database):
/// they take the bits of the file they stand for and are never wider than it. Walden creates its own files
/// owner-only first, so until the bits are set nobody else can read them. Nothing on Windows.
/// </summary>
internal static class FileModes
{
    private const UnixFileMode PermissionBits = (UnixFileMode)0x1FF; // rwx for user, group and others; no setuid, setgid or sticky

    /// <summary>The permission bits of <paramref name="path"/>, or null when it does not exist (or on Windows).</summary>
    internal static UnixFileMode? Of(string path) =>
        OperatingSystem.IsWindows() || !File.Exists(path) ? null : File.GetUnixFileMode(path) & PermissionBits;

    /// <summary>Gives <paramref name="path"/>, a file Walden wrote itself, the bits <paramref name="mode"/> (nothing when null).</summary>
    internal static void Apply(string path, UnixFileMode? mode)
    {
        if (mode is { } bits && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, bits & PermissionBits);
        }
    }

    /// <summary>
    /// Gives <paramref name="path"/> (a new file about to replace <paramref name="original"/>) the original's owner and group,
    /// so that the service that owns the database can still open it after a restore or recovery run as root. Only root may
    /// do that; for anyone else the new file is theirs, as the original was (or they could not have replaced it). No-op when
    /// the original is missing or the owners already match.
    /// </summary>
    internal static void KeepOwner(string path, string original)
    {
        if (!OperatingSystem.IsLinux() || Diagnostics.Doctor.FileOwner.Of(original) is not { } owner
            || Diagnostics.Doctor.FileOwner.Of(path) is not { } current || (current.UserId == owner.UserId && current.GroupId == owner.GroupId))
        {
            return;
        }

        // Anyone else's chown to another user fails (EPERM) and the new file stays theirs: nothing more can be done then.
        if (Native.Posix.Chown(path, owner.UserId, owner.GroupId) != 0 && Environment.UserName == "root")
        {
            throw new IOException($"Giving '{path}' the owner of '{original}' ({owner}) failed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}).");
        }
    }

    /// <summary>The bits as the octal digits <c>chmod</c> takes (<c>"644"</c>), or null.</summary>
    internal static string? Format(UnixFileMode? mode) =>
        mode is { } bits ? Convert.ToString((int)(bits & PermissionBits), 8).PadLeft(3, '0') : null;

    /// <summary>The bits written by <see cref="Format"/>, or null when absent or not octal.</summary>
    internal static UnixFileMode? Parse(string? octal)
    {
        if (string.IsNullOrEmpty(octal) || octal.Length > 4 || octal.Any(c => c is < '0' or > '7'))
        {
            return null;
        }

        return (UnixFileMode)Convert.ToInt32(octal, 8) & PermissionBits;
    }
}
