using System.Diagnostics;

namespace Walden.Tests.TestSupport;

/// <summary>chattr(1): the immutable attribute binds root too, for whom file modes are no bar (the tests run as root).</summary>
internal static class Chattr
{
    /// <summary>The message of a test that needs the immutable attribute where <c>chattr +i</c> failed.</summary>
    public const string Needed = "chattr +i failed: this test needs a file system with the immutable attribute (ext4, xfs, btrfs).";

    /// <summary>Runs <c>chattr <paramref name="flag"/> <paramref name="path"/></c>; false when it failed or there is no chattr.</summary>
    public static bool Run(string flag, string path)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("chattr", [flag, path]) { RedirectStandardError = true, UseShellExecute = false })!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no chattr
        }
    }
}
