using System.Text.Json;
using Walden.Backup;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Backup;

/// <summary>
/// What a backup folder lists: Walden's own copies only (named &lt;name&gt;-&lt;UTC time&gt;.db, or vouched for by a manifest of
/// Walden's). A user's database, another program's .db or an application's .json that sits in the folder is no backup,
/// and never called a failed or damaged one.
/// </summary>
public sealed class BackupListTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AManifestNamingAFileOutsideTheFolder_IsReadAsTheCopyBesideIt_SoPruningNeverDeletesTheLiveDatabase()
    {
        var source = _dir.File("src.db");
        using (var connection = Sql.OpenDirect(source))
        {
            connection.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)");
        }

        var folder = _dir.File("backups");
        var backup = await WaldenBackups.BackupAsync(source, folder);
        // An old copy whose manifest (edited, or another tool's) names "../src.db": the live database.
        var manifest = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(await File.ReadAllTextAsync(backup.Path + ".json"))!;
        manifest["file"] = JsonSerializer.SerializeToElement("../src.db");
        manifest["createdAt"] = JsonSerializer.SerializeToElement("2020-01-01T00:00:00+00:00");
        var old = Path.Combine(folder, "src-20200101T000000Z.db");
        File.Copy(backup.Path, old);
        await File.WriteAllTextAsync(old + ".json", JsonSerializer.Serialize(manifest));

        var entries = WaldenBackups.List(folder);
        Assert.All(entries, e => Assert.Equal(Path.GetFullPath(folder), Path.GetDirectoryName(Path.GetFullPath(e.Path))));
        Assert.Contains(entries, e => e.Path == old);

        await WaldenBackups.BackupAsync(source, folder, new WaldenBackupOptions { KeepLast = 1 });

        Assert.True(File.Exists(source)); // the live database is never pruned
        Assert.False(File.Exists(old));   // the old copy beside the manifest was
    }

    [Fact]
    public async Task Backups_WithoutVerify_NeverCallsAFileVerifiedNow_ItSaysWhatTheManifestVouchedForAndSuggestsVerify()
    {
        var source = _dir.File("app.db");
        await ForeignProgram.PythonAsync(
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE t(x)'); c.execute('INSERT INTO t VALUES (1)'); " +
            "c.commit(); c.close()", source);
        var folder = _dir.File("backups");
        var backup = await WaldenBackups.BackupAsync(source, folder);
        // Edited by hand after it was taken: one byte of its last page changed, its size unchanged.
        await using (var file = new FileStream(backup.Path, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = file.Length - 100;
            file.WriteByte(0x5a);
        }

        var listed = await WaldenCli.RunAsync("backups", folder);
        var json = await WaldenCli.RunAsync("backups", folder, "--json");
        var verified = await WaldenCli.RunAsync("backups", folder, "--verify");

        var text = listed.Stdout.ReplaceLineEndings(" ");
        Assert.True(listed.ExitCode == 0, listed.Stdout + listed.Stderr);
        Assert.DoesNotMatch(@"\bverified\b(?! when taken)", text); // never "verified" of content nobody looked at now
        Assert.Contains("verified when taken", text, StringComparison.Ordinal);
        Assert.Contains("content was not re-checked", text, StringComparison.Ordinal);
        Assert.Contains("--verify", text, StringComparison.Ordinal);
        using (var document = JsonDocument.Parse(json.Stdout))
        {
            var row = document.RootElement.GetProperty("backups").EnumerateArray().Single();
            Assert.False(row.GetProperty("contentCheckedNow").GetBoolean());
        }

        Assert.True(verified.ExitCode == 1, verified.Stdout + verified.Stderr); // re-checked now: damaged
        Assert.Contains("damaged", verified.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_OfAFolderWithTheUsersOwnFiles_ShowsOnlyWaldensCopies_AndSaysTheOthersWereLeftOut()
    {
        var source = _dir.File("app.db");
        using (var connection = Sql.OpenDirect(source))
        {
            connection.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)");
        }

        var folder = _dir.File("backups");
        var backup = await WaldenBackups.BackupAsync(source, folder);
        File.Copy(source, Path.Combine(folder, "app.db"));                        // the user's database, kept beside its backups
        File.Copy(source, Path.Combine(folder, "notes.db"));                      // another program's database
        File.Copy(source, Path.Combine(folder, "archive.db.gz"));                 // compressed, but not named as Walden names copies
        await File.WriteAllTextAsync(Path.Combine(folder, "settings.json"), "{\"theme\": \"dark\"}");
        await File.WriteAllTextAsync(Path.Combine(folder, "notes.db.json"), "{\"owner\": \"notes app\"}");
        var leftover = Path.Combine(folder, "app-20260101T000000Z.db");         // Walden's name without a manifest: a failed copy
        File.Copy(source, leftover);

        var entries = WaldenBackups.List(folder);
        var listed = await WaldenCli.RunAsync("backups", folder, "--json");
        var table = await WaldenCli.RunAsync("backups", folder);

        Assert.Equal(new[] { backup.Path, leftover }.Order(StringComparer.Ordinal), entries.Select(e => e.Path).Order(StringComparer.Ordinal));
        Assert.Equal(WaldenBackupState.Unverified, entries.Single(e => e.Path == leftover).State);
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        using var document = JsonDocument.Parse(listed.Stdout);
        Assert.Equal(2, document.RootElement.GetProperty("backups").GetArrayLength());
        Assert.Equal(
            ["app.db", "archive.db.gz", "notes.db"],
            document.RootElement.GetProperty("ignored").EnumerateArray().Select(e => Path.GetFileName(e.GetString()!)));
        Assert.True(table.ExitCode == 0, table.Stderr);
        Assert.Contains("Not Walden backups, left out: app.db, archive.db.gz, notes.db", table.Stdout.ReplaceLineEndings(" "), StringComparison.Ordinal);
        Assert.DoesNotContain("settings", table.Stdout, StringComparison.Ordinal);
    }

    /// <summary>
    /// Backups are looked for in the folder itself: a subfolder (older backups moved aside, one per database) is named as left
    /// out, with how to list it, as the folder's other files are. Before, it was skipped without a word.
    /// </summary>
    [Fact]
    public async Task List_OfAFolderWithSubfolders_NamesEachAsLeftOut_AndHowToListIt()
    {
        var source = _dir.File("app.db");
        using (var connection = Sql.OpenDirect(source))
        {
            connection.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)");
        }

        var folder = _dir.File("backups");
        await WaldenBackups.BackupAsync(source, folder);
        var older = Path.Combine(folder, "2025");
        await WaldenBackups.BackupAsync(source, older);                            // Walden's backups, in a subfolder
        Directory.CreateDirectory(Path.Combine(folder, "empty"));

        var listed = await WaldenCli.RunAsync("backups", folder, "--json");
        var table = await WaldenCli.RunAsync("backups", folder);

        Assert.True(listed.ExitCode == 0, listed.Stderr);
        using var document = JsonDocument.Parse(listed.Stdout);
        Assert.Equal(1, document.RootElement.GetProperty("backups").GetArrayLength());
        Assert.Equal(
            [older + "/", Path.Combine(folder, "empty") + "/"],
            document.RootElement.GetProperty("ignored").EnumerateArray().Select(e => e.GetString()!));
        Assert.True(table.ExitCode == 0, table.Stderr);
        var text = table.Stdout.ReplaceLineEndings(" ");
        Assert.Contains("left out: 2025/, empty/", text, StringComparison.Ordinal);
        Assert.Contains("subfolders are not looked into", text, StringComparison.Ordinal);
    }
}
