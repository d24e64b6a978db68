using System.Text.Json;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

public sealed class InPlaceRecoveryTests
{
    [Fact]
    public async Task RecoverInPlace_KeepsTheDamagedOriginalInQuarantineAndLeavesAHealthyDatabase()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        DamagedDatabases.Create(path);
        var original = DamagedDatabases.Rows(path);
        DamagedDatabases.Damage(path, DamageKind.GarbagePages);
        var damagedBytes = await File.ReadAllBytesAsync(path);

        var report = await WaldenRecovery.RecoverInPlaceAsync(path);

        Assert.True(report.Usable);
        Assert.Equal(path, report.OutputPath);
        var kept = Path.Combine(report.Quarantine!.Folder, "app.db");
        Assert.Equal(damagedBytes, await File.ReadAllBytesAsync(kept));
        using (var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(report.Quarantine.Folder, "quarantine.json"))))
        {
            Assert.Contains("Recovered in place", manifest.RootElement.GetProperty("reason").GetString(), StringComparison.Ordinal);
        }

        using (var recovered = Sql.OpenDirect(path, readOnly: true))
        {
            Assert.Equal("ok", recovered.Scalar<string>("PRAGMA integrity_check"));
        }

        var rows = DamagedDatabases.Rows(path);
        Assert.Equal(rows.Count, rows.Count(original.Contains));
        Assert.Equal(report.RowsRecovered, rows.Count);
        Assert.True(report.PagesUnreadable > 0);
        Assert.True(report.InputPages > report.PagesUnreadable);
    }

    /// <summary>
    /// A killed writer's -wal is read on a private copy, whose note said "your files were not changed"; the in-place report
    /// ended with that sentence right after the original had gone to quarantine.
    /// </summary>
    [Fact]
    public async Task RecoverInPlace_OfAKilledWritersWal_DoesNotSayTheFilesWereNotChanged()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.KilledWithCommittedWal, path);

        var report = await WaldenRecovery.RecoverInPlaceAsync(path);

        Assert.NotNull(report.Quarantine);
        Assert.Contains(report.Notes, note => note.Contains("private copy", StringComparison.Ordinal));
        Assert.DoesNotContain(report.Notes, note => note.Contains("your files were not changed", StringComparison.Ordinal));
        Assert.Contains(report.Notes, note => note.Contains("then went to quarantine", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RecoverInPlace_InAFolderThisUserMayNotWrite_NamesTheFolder_AndSaysNothingWasChanged()
    {
        using var temp = new TempDirectory();
        var folder = Directory.CreateDirectory(temp.File("data")).FullName;
        var path = Path.Combine(folder, "app.db");
        DamagedDatabases.Create(path);
        DamagedDatabases.Damage(path, DamageKind.GarbagePages);
        var before = await File.ReadAllBytesAsync(path);
        var files = Directory.EnumerateFileSystemEntries(folder).Order().ToList();
        // Immutable: binds root too (the tests run as root, for whom file modes are no bar).
        Assert.True(Chattr.Run("+i", folder), Chattr.Needed);
        try
        {
            var refused = await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenRecovery.RecoverInPlaceAsync(path));

            // Immutable binds root too: the folder is named with that cause, not with a permission this user lacks.
            Assert.Contains($"'{folder}' is immutable (chattr +i)", refused.Message, StringComparison.Ordinal);
            Assert.Contains("Nothing was changed", refused.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(".owner", refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            Chattr.Run("-i", folder);
        }

        Assert.Equal(before, await File.ReadAllBytesAsync(path));
        Assert.Equal(files, Directory.EnumerateFileSystemEntries(folder).Order().ToList()); // nothing left behind
    }


    [Fact]
    public async Task RecoverInPlace_WhileAnotherProcessHasTheDatabaseOpen_RefusesAndNamesTheLock()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        DamagedDatabases.Create(path);
        var before = await File.ReadAllBytesAsync(path);
        using var shell = new SqliteShell(path);
        await shell.RunAsync("SELECT count(*) FROM tags;");

        var error = await Assert.ThrowsAsync<WaldenDatabaseInUseException>(() => WaldenRecovery.RecoverInPlaceAsync(path));

        Assert.Equal(shell.ProcessId, error.ProcessId);
        Assert.Contains($"process {shell.ProcessId}", error.Message, StringComparison.Ordinal);
        Assert.Contains("lock", error.LockDescription, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp.File("walden-quarantine")));
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task RecoverTo_WithSchemaFromSqlText_RebuildsTablesButNeverGuessesRowsWithoutRootPages()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        DamagedDatabases.Create(path);
        var original = DamagedDatabases.Rows(path);
        DamagedDatabases.Damage(path, DamageKind.SchemaPage);
        var sql = temp.File("schema.sql");
        await File.WriteAllTextAsync(sql, DamagedDatabases.SchemaSql);

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("out.db"), new WaldenRecoveryOptions { SchemaFrom = sql });

        // Without the header the freelist is unknown, so rows from freed pages could pass for live ones: none is attributed by shape.
        Assert.True(report.Usable);
        Assert.Contains("customers", report.TablesRebuiltFromKnownSchema);
        Assert.Equal(0, report.RowsRecovered);
        Assert.True(report.LostAndFoundRows > 0);
        Assert.DoesNotContain(DamagedDatabases.Rows(temp.File("out.db")), r => !original.Contains(r));
    }
}
