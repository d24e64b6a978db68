namespace Walden.Tests.TestSupport;

/// <summary>
/// A disk that fails fsync for chosen files, for work done outside SQLite (where the fault VFS cannot reach: .NET's own
/// FileStream.Flush(true), the fsync of a folder after a rename): a tiny LD_PRELOAD library (built with gcc) makes fsync and
/// fdatasync return EIO when the descriptor's path contains the text in FAIL_FSYNC_PATH (is that path, with
/// FAIL_FSYNC_EXACT=1), and, with FAIL_FSYNC_DIRS=1, only when it is a folder. A child process (the walden CLI) runs under it.
/// </summary>
internal static class FailingFsync
{
    private const string Source = """
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <errno.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/stat.h>
        #include <unistd.h>
        static int fails(int fd) {
            const char *at = getenv("FAIL_FSYNC_PATH");
            if (!at || !*at) return 0;
            char link[64], path[4096];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t n = readlink(link, path, sizeof path - 1);
            if (n <= 0) return 0;
            path[n] = 0;
            const char *exact = getenv("FAIL_FSYNC_EXACT");
            if (exact && *exact == '1' ? strcmp(path, at) != 0 : !strstr(path, at)) return 0;
            const char *dirs = getenv("FAIL_FSYNC_DIRS");
            struct stat st;
            if (dirs && *dirs == '1' && (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode))) return 0;
            return 1;
        }
        int fsync(int fd) {
            static int (*real)(int);
            if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
            if (fails(fd)) { errno = EIO; return -1; }
            return real(fd);
        }
        int fdatasync(int fd) {
            static int (*real)(int);
            if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
            if (fails(fd)) { errno = EIO; return -1; }
            return real(fd);
        }
        """;

    /// <summary>Builds the library into <paramref name="folder"/> and returns its path.</summary>
    public static Task<string> BuildAsync(string folder) => PreloadLibrary.BuildAsync(folder, "failing-fsync", Source);

    /// <summary>
    /// The environment that runs a child under the library, failing the fsyncs of paths containing <paramref name="path"/>
    /// (or equal to it, with <paramref name="exact"/>), of folders only with <paramref name="foldersOnly"/>.
    /// </summary>
    public static Dictionary<string, string> Environment(string library, string path, bool foldersOnly = false, bool exact = false) => new()
    {
        ["LD_PRELOAD"] = library,
        ["FAIL_FSYNC_PATH"] = path,
        ["FAIL_FSYNC_DIRS"] = foldersOnly ? "1" : "0",
        ["FAIL_FSYNC_EXACT"] = exact ? "1" : "0",
    };
}
