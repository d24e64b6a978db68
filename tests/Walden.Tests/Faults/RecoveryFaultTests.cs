using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Walden.Recovery;
using Walden.Tests.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Faults;

/// <summary>
/// Recovery on a failing disk (the fault VFS): a full disk, a short write, EIO on write, on fsync or on read while the
/// recovered file is written, and EIO on read of the damaged input. Recovery fails typed, naming what failed; it never
/// takes a page it could not read for damage and goes on; the damaged input stays byte for byte as it was; and nothing is
/// left at the destination that could pass for a recovered database.
/// </summary>
[Collection(nameof(FaultVfsCollection))]
public sealed class RecoveryFaultTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// "out": faults on the folder the recovered file is written to; "in": on the damaged input's folder. The seeded ones are
    /// seeds where, before the fix, recovery went on past the fault and reported a result (fewer rows, or a page counted as
    /// unreadable, or "not usable" for an integrity_check that could not read a page).
    /// </summary>
    [Theory]
    [InlineData("out", "enospc=1")]
    [InlineData("out", "seed=5;short_write=0.3")]
    [InlineData("out", "eio_write=1")]
    [InlineData("out", "eio_fsync=1")]
    [InlineData("out", "eio_read=1")]
    [InlineData("out", "seed=2;eio_read=0.01")]
    [InlineData("out", "seed=26;eio_read=0.01")]
    [InlineData("out", "seed=5;eio_read=0.01")]
    [InlineData("out", "seed=4;eio_fsync=0.1")]
    [InlineData("out", "seed=7;eio_fsync=0.1")]
    [InlineData("in", "eio_read=1")]
    [InlineData("in", "seed=2;eio_read=0.002")]
    [InlineData("in", "seed=8;eio_read=0.002")]
    public async Task RecoverTo_OnAFailingDisk_FailsTypedNamingWhatFailed_AndLeavesNothingThatPassesForARecoveredDatabase(
        string where, string faults)
    {
        var (input, outFolder, before) = DamagedInput();
        using var disk = new FaultDisk(where == "in" ? Path.GetDirectoryName(input)! : outFolder);
        disk.Set(faults);
        var output = Path.Combine(outFolder, "out.db");

        var error = await Assert.ThrowsAnyAsync<WaldenException>(() => WaldenRecovery.RecoverToAsync(input, output));

        Assert.True(disk.FaultsInjected > 0);
        disk.Clear();
        Assert.True((error.SqliteErrorCode & 0xFF) is 10 or 13,
            $"not typed as a failing disk: {error.GetType().Name} {error.SqliteErrorCode}: {error.Message}");
        Assert.Contains(input, error.Message, StringComparison.Ordinal);
        var named = faults.Contains("eio_read", StringComparison.Ordinal) && where == "in" ? input : outFolder;
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was left half-written", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, SHA256.HashData(await File.ReadAllBytesAsync(input)));
        AssertNothingLeft(outFolder);
    }

    [Theory]
    [InlineData("enospc=1")]
    [InlineData("eio_fsync=1")]
    [InlineData("eio_read=1")]
    [InlineData("seed=1;eio_fsync=0.2")] // 0.05 injected none since recovery stopped running ANALYZE on a file without statistics
    public async Task RecoverInPlace_OnAFailingDisk_FailsTyped_AndLeavesTheDamagedOriginalInPlaceByteForByte(string faults)
    {
        var (input, _, before) = DamagedInput();
        var folder = Path.GetDirectoryName(input)!;
        using var disk = new FaultDisk(folder);
        disk.Set(faults);

        var error = await Assert.ThrowsAnyAsync<WaldenException>(() => WaldenRecovery.RecoverInPlaceAsync(input));

        disk.Clear();
        Assert.True((error.SqliteErrorCode & 0xFF) is 10 or 13, $"not typed as a failing disk: {error.GetType().Name}: {error.Message}");
        Assert.Equal(before, SHA256.HashData(await File.ReadAllBytesAsync(input)));
        Assert.False(Directory.Exists(Path.Combine(folder, "walden-quarantine")), "nothing was swapped in, so nothing is quarantined");
        AssertNothingLeft(folder, "app.db");
    }

    [Theory]
    [InlineData("eio_fsync=1")]
    [InlineData("enospc=1")]
    public async Task RecoverCommand_OnAFailingDisk_ExitsTwo_WithOneJsonErrorNamingTheFolder_AndNoOutput(string faults)
    {
        var (input, outFolder, before) = DamagedInput();
        var output = Path.Combine(outFolder, "out.db");
        var environment = new Dictionary<string, string> { ["WALDEN_FAULT_VFS"] = $"dir={outFolder}/;{faults}" };

        var result = await WaldenCli.RunAsync(environment, "recover", input, "--output", output, "--json");

        Assert.Equal(2, result.ExitCode);
        using (var json = JsonDocument.Parse(result.Stdout))
        {
            Assert.Equal(2, json.RootElement.GetProperty("exitCode").GetInt32());
            Assert.Contains(outFolder, json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        Assert.Contains(outFolder, result.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, SHA256.HashData(await File.ReadAllBytesAsync(input)));
        AssertNothingLeft(outFolder);
    }

    /// <summary>A damaged rollback-journal database (recovery reads it in place, not a private copy) in a folder of its own.</summary>
    private (string Input, string OutFolder, byte[] Before) DamagedInput()
    {
        var input = Path.Combine(Directory.CreateDirectory(_dir.File("in")).FullName, "app.db");
        var outFolder = Directory.CreateDirectory(_dir.File("out")).FullName;
        DamagedDatabases.Create(input);
        using (var connection = Sql.OpenDirect(input))
        {
            connection.Exec("PRAGMA journal_mode=DELETE");
        }

        SqliteConnection.ClearAllPools();
        DamagedDatabases.Damage(input, DamageKind.GarbagePages);
        return (input, outFolder, SHA256.HashData(File.ReadAllBytes(input)));
    }

    /// <summary>Nothing but <paramref name="keep"/> and the fault VFS's own undo logs (a model of the page cache, not Walden's).</summary>
    private static void AssertNothingLeft(string folder, params string[] keep)
    {
        var left = Directory.EnumerateFiles(folder).Select(Path.GetFileName)
            .Where(f => !keep.Contains(f) && !f!.EndsWith(".fault-undo", StringComparison.Ordinal)).ToList();
        Assert.True(left.Count == 0, "left behind: " + string.Join(", ", left));
    }
}
