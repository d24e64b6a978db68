using System.Runtime.InteropServices;

namespace Walden.Native;

internal static partial class Posix
{
    private const int PrioProcess = 0; // with a thread id as "who", Linux sets that one thread's nice value

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "getpriority", SetLastError = true)]
    private static partial int GetPriority(int which, int who);

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int priority);

    /// <summary>
    /// Makes the calling thread yield the CPU to the process's other threads: on Linux its nice value goes up by
    /// <paramref name="increment"/> (a thread is a task of its own there, and raising one's own nice needs no privilege);
    /// elsewhere <see cref="ThreadPriority.BelowNormal"/>. Best effort: returns false when it could not.
    /// </summary>
    internal static bool LowerCurrentThreadPriority(int increment)
    {
        try
        {
            if (!OperatingSystem.IsLinux())
            {
                Thread.CurrentThread.Priority = ThreadPriority.BelowNormal;
                return true;
            }

            var tid = GetTid();
            Marshal.SetLastPInvokeError(0);
            var current = GetPriority(PrioProcess, tid);
            if (current == -1 && Marshal.GetLastPInvokeError() != 0)
            {
                return false;
            }

            return SetPriority(PrioProcess, tid, Math.Min(19, current + increment)) == 0;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException or PlatformNotSupportedException)
        {
            return false;
        }
    }

    /// <summary>The calling thread's nice value on Linux (tests); null elsewhere.</summary>
    internal static int? CurrentThreadNice() =>
        OperatingSystem.IsLinux() ? GetPriority(PrioProcess, GetTid()) : null;
}
