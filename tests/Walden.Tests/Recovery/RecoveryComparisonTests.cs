using Walden.Recovery;
using Walden.Tests.TestSupport;
using Xunit.Abstractions;

namespace Walden.Tests.Recovery;

/// <summary>
/// Walden's recovery side by side with the 3.54.1 shell's <c>.recover</c> on the same damaged files.
/// Each run prints one row of the comparison table (run with --logger "console;verbosity=detailed").
/// </summary>
public sealed class RecoveryComparisonTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(DamageKind.ZeroedPages)]
    [InlineData(DamageKind.GarbagePages)]
    [InlineData(DamageKind.InteriorPages)]
    [InlineData(DamageKind.Truncation)]
    [InlineData(DamageKind.Header)]
    [InlineData(DamageKind.SchemaPage)]
    [InlineData(DamageKind.BitFlips)]
    public async Task Recovery_OnDamagedFile_RecoversAtLeastAsManyExactRowsAsShellRecover(DamageKind kind)
    {
        using var temp = new TempDirectory();
        var pristine = temp.File("pristine.db");
        var schemaBackup = temp.File("schema-backup.db");
        DamagedDatabases.Create(pristine, schemaBackup);
        var original = DamagedDatabases.Rows(pristine);
        var damaged = temp.File("damaged.db");
        File.Copy(pristine, damaged);
        // The damage is seeded (7 by default); WALDEN_DAMAGE_SEED runs the same comparison on other damage.
        var seed = int.TryParse(Environment.GetEnvironmentVariable("WALDEN_DAMAGE_SEED"), out var s) ? s : 7;
        var what = DamagedDatabases.Damage(damaged, kind, seed);

        var report = await WaldenRecovery.RecoverToAsync(damaged, temp.File("walden.db"), new WaldenRecoveryOptions { SchemaFrom = schemaBackup });
        var plain = await WaldenRecovery.RecoverToAsync(damaged, temp.File("walden-plain.db"));
        await DamagedDatabases.ShellRecoverAsync(damaged, temp.File("shell.db"));

        var walden = DamagedDatabases.Rows(temp.File("walden.db"));
        var shell = DamagedDatabases.Rows(temp.File("shell.db"));
        var waldenExact = walden.Count(original.Contains);
        var shellExact = shell.Count(original.Contains);
        var plainRows = DamagedDatabases.Rows(temp.File("walden-plain.db"));
        var plainExact = plainRows.Count(original.Contains);
        output.WriteLine("| damage | original rows | Walden exact | Walden differing | Walden lost_and_found | Walden exact, no schema source | .recover exact | .recover differing | damage applied |");
        output.WriteLine($"| {kind} | {original.Count} | {waldenExact} | {walden.Count - waldenExact} | {report.LostAndFoundRows} | {plainExact} | {shellExact} | {shell.Count - shellExact} | {what} |");
        output.WriteLine($"walden notes: {string.Join(" / ", report.Notes)}; reattributed {report.RowsReattributed}; rebuilt {string.Join(",", report.TablesRebuiltFromKnownSchema)}; integrity {report.IntegrityCheck}");

        foreach (var row in walden.Where(r => !original.Contains(r)).Take(5))
        {
            output.WriteLine($"differs: {row[..Math.Min(row.Length, 200)]}");
        }

        if (Environment.GetEnvironmentVariable("WALDEN_RECOVERY_KEEP") is { Length: > 0 } keep)
        {
            Directory.CreateDirectory(Path.Combine(keep, kind.ToString()));
            foreach (var name in new[] { "pristine.db", "damaged.db", "walden.db", "shell.db" })
            {
                File.Copy(temp.File(name), Path.Combine(keep, kind.ToString(), name), overwrite: true);
            }
        }

        Assert.True(report.Usable, report.IntegrityCheck);
        using (var recovered = Sql.OpenDirect(temp.File("walden.db"), readOnly: true))
        {
            Assert.Equal("ok", recovered.Scalar<string>("PRAGMA integrity_check"));
            Assert.Contains("docs", report.FullTextIndexesRebuilt);
            Assert.True(recovered.Scalar<long>("SELECT count(*) FROM docs WHERE docs MATCH 'alpha'") > 0); // the rebuilt index answers
        }

        Assert.Equal(walden.Count, waldenExact); // no recovered row differs from an original row
        Assert.True(waldenExact >= shellExact, $"Walden recovered {waldenExact} exact rows, .recover {shellExact}.");
        Assert.True(plain.Usable, plain.IntegrityCheck);
        Assert.Equal(plainRows.Count, plainExact); // without a schema source nothing is invented either
        if (kind is DamageKind.SchemaPage or DamageKind.Header)
        {
            Assert.True(report.PageSizeRetried); // the header was unreadable: repaired on copies, every legal page size tried
            Assert.Equal(4096, report.PageSize);
            Assert.True(waldenExact > shellExact, $"With the schema page or header damaged Walden recovered {waldenExact} exact rows, .recover {shellExact}.");
        }
    }
}
