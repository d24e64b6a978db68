using System.Diagnostics;

namespace Walden.Tests.TestSupport;

/// <summary>
/// Builds a tiny LD_PRELOAD library from C source with gcc (which the native build needs anyway): the way the tests put a
/// fault at an exact point of a child process's system calls (<see cref="UnlinkKiller"/>, <see cref="FailingFsync"/>).
/// </summary>
internal static class PreloadLibrary
{
    /// <summary>Writes <paramref name="source"/> to <paramref name="folder"/>, builds <c>{name}.so</c> there and returns its path.</summary>
    /// <exception cref="InvalidOperationException">gcc did not start or failed (its error output is in the message).</exception>
    public static async Task<string> BuildAsync(string folder, string name, string source)
    {
        var sourcePath = Path.Combine(folder, name + ".c");
        var library = Path.Combine(folder, name + ".so");
        await File.WriteAllTextAsync(sourcePath, source);
        var info = new ProcessStartInfo("gcc") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-shared", "-fPIC", "-O1", "-o", library, sourcePath, "-ldl" })
        {
            info.ArgumentList.Add(argument);
        }

        using var gcc = Process.Start(info) ?? throw new InvalidOperationException("gcc did not start");
        var stderr = await gcc.StandardError.ReadToEndAsync();
        await gcc.WaitForExitAsync();
        return gcc.ExitCode == 0 ? library : throw new InvalidOperationException($"gcc failed: {stderr}");
    }
}
