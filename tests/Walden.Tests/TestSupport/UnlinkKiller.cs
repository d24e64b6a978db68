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
    public static Task<string> BuildAsync(string folder) => PreloadLibrary.BuildAsync(folder, "kill-at-unlink", Source);

    /// <summary>Runs a Python script under the library; returns its exit code (137 or -9 when it was killed).</summary>
    public static Task<int> RunPythonAsync(string library, string script, params string[] arguments)
        => ForeignProgram.RunPythonAsync(script, new Dictionary<string, string> { ["LD_PRELOAD"] = library }, arguments);
}
