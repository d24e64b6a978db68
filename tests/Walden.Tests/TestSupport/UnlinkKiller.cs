using System.Diagnostics;

namespace Walden.Tests.TestSupport;

/// <summary>
/// Kills a foreign program at an exact point of SQLite's commit: a tiny LD_PRELOAD library (built with gcc, which the
/// native build needs anyway) sends SIGKILL to the process when it is about to unlink a file whose path contains the
/// text in the environment variable KILL_AT_UNLINK. A Python script sets that variable right before its COMMIT, so the
/// kill lands inside the commit (e.g. just before the super-journal of a multi-database transaction is deleted).
/// </summary>
internal static class UnlinkKiller
{
    private const string Source = """
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <signal.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        int unlink(const char *path) {
            static int (*real)(const char *);
            if (!real) real = (int (*)(const char *))dlsym(RTLD_NEXT, "unlink");
            const char *at = getenv("KILL_AT_UNLINK");
            if (at && *at && strstr(path, at)) kill(getpid(), SIGKILL);
            return real(path);
        }
        """;

    /// <summary>Builds the library into <paramref name="folder"/> and returns its path.</summary>
    public static async Task<string> BuildAsync(string folder)
    {
        var source = Path.Combine(folder, "kill-at-unlink.c");
        var library = Path.Combine(folder, "kill-at-unlink.so");
        await File.WriteAllTextAsync(source, Source);
        var info = new ProcessStartInfo("gcc") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-shared", "-fPIC", "-O1", "-o", library, source, "-ldl" })
        {
            info.ArgumentList.Add(argument);
        }

        using var gcc = Process.Start(info) ?? throw new InvalidOperationException("gcc did not start");
        var stderr = await gcc.StandardError.ReadToEndAsync();
        await gcc.WaitForExitAsync();
        return gcc.ExitCode == 0 ? library : throw new InvalidOperationException($"gcc failed: {stderr}");
    }

    /// <summary>Runs a Python script under the library; returns its exit code (137 or -9 when it was killed).</summary>
    public static async Task<int> RunPythonAsync(string library, string script, params string[] arguments)
    {
        var info = new ProcessStartInfo(ForeignProgram.Python) { RedirectStandardError = true, UseShellExecute = false };
        info.Environment["LD_PRELOAD"] = library;
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("python3 did not start");
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 && process.ExitCode != 137 && process.ExitCode != -9)
        {
            throw new InvalidOperationException($"python3 failed ({process.ExitCode}): {stderr}");
        }

        return process.ExitCode;
    }
}
