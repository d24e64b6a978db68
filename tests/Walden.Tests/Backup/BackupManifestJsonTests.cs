using System.Text.Json;
using System.Text.Json.Serialization;
using Walden.Backup;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Backup;

/// <summary>
/// Manifests are read and written by source-generated JSON (no reflection), and stay in the format earlier versions
/// wrote with reflection-based JSON and these options: backups taken before still read, new manifests are byte for byte
/// what an earlier version would have written.
/// </summary>
public sealed class BackupManifestJsonTests : IDisposable
{
    /// <summary>The options manifests were written with before the source-generated context (BackupFiles.Json).</summary>
    private static readonly JsonSerializerOptions EarlierOptions = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>A manifest as an earlier version wrote it (a gzip copy with notes and the source's permission bits).</summary>
    private const string EarlierManifest = """
        {
          "format": "walden-backup/1",
          "file": "app-20261121T020000Z.db.gz",
          "source": "/srv/data/app.db",
          "createdAt": "2026-11-21T02:00:00.1234567+00:00",
          "method": "backup-api",
          "compression": "gZip",
          "sourceJournalMode": "wal",
          "sqliteVersion": "3.54.1",
          "databaseBytes": 40960,
          "databaseSha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
          "storedBytes": 1234,
          "storedSha256": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
          "pageSize": 4096,
          "pageCount": 10,
          "integrityCheck": "ok",
          "tableRows": {
            "log": 8000,
            "Tags": 3
          },
          "copyDuration": "00:00:00.8120000",
          "verifyDuration": "00:00:01.0500000",
          "restarts": 0,
          "sourceFileMode": "644",
          "notes": [
            "collation \u0027app_nocase\u0027 was replaced by a stand-in"
          ]
        }
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ReadManifest_OfAManifestAnEarlierVersionWrote_ReadsEveryField()
    {
        var manifest = _dir.File("app-20261121T020000Z.db.gz.json");
        File.WriteAllText(manifest, EarlierManifest);

        var backup = BackupFiles.ReadManifest(manifest, out var problem);

        Assert.Null(problem);
        Assert.NotNull(backup);
        Assert.Equal(_dir.File("app-20261121T020000Z.db.gz"), backup.Path);
        Assert.Equal("walden-backup/1", backup.Format);
        Assert.Equal("/srv/data/app.db", backup.Source);
        Assert.Equal(new DateTimeOffset(2026, 11, 21, 2, 0, 0, TimeSpan.Zero).AddTicks(1234567), backup.CreatedAt);
        Assert.Equal("backup-api", backup.Method);
        Assert.Equal(WaldenBackupCompression.GZip, backup.Compression);
        Assert.Equal("wal", backup.SourceJournalMode);
        Assert.Equal(40960, backup.DatabaseBytes);
        Assert.Equal(1234, backup.StoredBytes);
        Assert.Equal(4096, backup.PageSize);
        Assert.Equal(10, backup.PageCount);
        Assert.Equal(new Dictionary<string, long> { ["log"] = 8000, ["Tags"] = 3 }, backup.TableRows);
        Assert.Equal(TimeSpan.FromMilliseconds(812), backup.CopyDuration);
        Assert.Equal(TimeSpan.FromMilliseconds(1050), backup.VerifyDuration);
        Assert.Equal("644", backup.SourceFileMode);
        Assert.Equal(["collation 'app_nocase' was replaced by a stand-in"], backup.Notes);
    }

    [Fact]
    public void ReadManifest_ReadsNamesInAnyCaseAndNumbersWrittenAsStrings_AsTheWebDefaultsDid()
    {
        var manifest = _dir.File("app.db.json");
        File.WriteAllText(manifest, EarlierManifest
            .Replace("\"compression\": \"gZip\"", "\"Compression\": \"brotli\"", StringComparison.Ordinal)
            .Replace("\"pageSize\": 4096", "\"PAGESIZE\": \"4096\"", StringComparison.Ordinal));

        var backup = BackupFiles.ReadManifest(manifest, out var problem);

        Assert.Null(problem);
        Assert.Equal(WaldenBackupCompression.Brotli, backup!.Compression);
        Assert.Equal(4096, backup.PageSize);
    }

    [Theory]
    [InlineData(WaldenBackupCompression.None)]
    [InlineData(WaldenBackupCompression.GZip)]
    [InlineData(WaldenBackupCompression.Brotli)]
    public void WriteManifest_WritesByteForByteWhatAnEarlierVersionWrote(WaldenBackupCompression compression)
    {
        var backup = JsonSerializer.Deserialize<WaldenBackup>(EarlierManifest, EarlierOptions)! with
        {
            Path = _dir.File("app-20261121T020000Z.db.gz"),
            Compression = compression,
        };

        BackupFiles.WriteManifest(backup);

        var written = File.ReadAllBytes(BackupFiles.ManifestPathOf(backup.Path));
        Assert.Equal(JsonSerializer.SerializeToUtf8Bytes(backup, EarlierOptions), written);
        Assert.Equal(EarlierManifest.Replace("gZip", JsonNamingPolicy.CamelCase.ConvertName(compression.ToString()), StringComparison.Ordinal),
            File.ReadAllText(BackupFiles.ManifestPathOf(backup.Path)).ReplaceLineEndings("\n"));
    }

    [Fact]
    public async Task BackupAsync_ItsManifest_ReadsBackWithTheOptionsOfEarlierVersions()
    {
        var path = _dir.File("app.db");
        await using (var db = await WaldenDatabase.OpenAsync(path))
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable));
        }

        var backup = await WaldenBackups.BackupAsync(path, _dir.File("backups"), new WaldenBackupOptions { Compression = WaldenBackupCompression.GZip });

        var manifest = File.ReadAllText(BackupFiles.ManifestPathOf(backup.Path));
        Assert.Contains("\"compression\": \"gZip\"", manifest, StringComparison.Ordinal);
        var earlier = JsonSerializer.Deserialize<WaldenBackup>(manifest, EarlierOptions)!;
        Assert.Equal(backup.DatabaseSha256, earlier.DatabaseSha256);
        Assert.Equal(JsonSerializer.Serialize(backup, EarlierOptions), JsonSerializer.Serialize(earlier, EarlierOptions));
    }
}
