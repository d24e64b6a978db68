using System.Diagnostics;

namespace Walden.Tests.TestSupport;

/// <summary>
/// A small tmpfs of its own (tests run as root, where chmod denies nothing): a disk that fills up, or,
/// after <see cref="MakeReadOnly"/>, a read-only folder. <see cref="TryCreate"/> returns null with the
/// reason when this machine cannot mount one; the test then says so and returns.
/// </summary>
internal sealed class SmallMount : IDisposable
{
    private SmallMount(string path) => Path = path;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public static SmallMount? TryCreate(int megabytes, out string reason)
    {
        var path = Directory.CreateTempSubdirectory("walden-mount-").FullName;
        var (exit, error) = Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", path);
        if (exit != 0)
        {
            Directory.Delete(path);
            reason = $"skipped: cannot mount a tmpfs here ({error.Trim()})";
            return null;
        }

        reason = string.Empty;
        return new SmallMount(path);
    }

    public void MakeReadOnly()
    {
        var (exit, error) = Run("mount", "-o", "remount,ro", Path);
        if (exit != 0)
        {
            throw new InvalidOperationException($"remount read-only failed: {error}");
        }
    }

    /// <summary>Fills the disk, leaving about <paramref name="bytesLeft"/> free.</summary>
    public void Fill(long bytesLeft)
    {
        var free = new DriveInfo(Path).AvailableFreeSpace;
        using var filler = new FileStream(File("filler.bin"), FileMode.Create);
        var chunk = new byte[64 * 1024];
        for (var left = free - bytesLeft; left > 0; left -= chunk.Length)
        {
            filler.Write(chunk, 0, (int)Math.Min(chunk.Length, left));
        }
    }

    public void Dispose()
    {
        Run("umount", "-l", Path);
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static (int Exit, string Error) Run(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        try
        {
            using var process = Process.Start(info)!;
            var error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, error);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return (-1, ex.Message);
        }
    }
}
