using System.Diagnostics;

namespace Walden.Tests.Recovery;

/// <summary>Runs a Python program with its own <c>sqlite3</c> module (Debian's SQLite 3.40.1): a database as a foreign program leaves it.</summary>
internal static class ForeignProgram
{
    /// <summary>Runs <paramref name="script"/> with <c>python3 -c</c>; the arguments are <c>sys.argv[1:]</c>. Throws with its stderr when it fails.</summary>
    public static async Task PythonAsync(string script, params string[] arguments)
    {
        var info = new ProcessStartInfo("python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("python3 did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        await Task.WhenAll(stdout, stderr);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"python3 exited with {process.ExitCode}: {await stderr}");
        }
    }

    /// <summary>Overwrites one page of a closed database file with zeros (damage as a stray write leaves it).</summary>
    public static void ZeroPage(string path, long pgno, int pageSize)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.Position = (pgno - 1) * pageSize;
        stream.Write(new byte[pageSize]);
    }
}
