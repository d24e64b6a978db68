using System.Globalization;
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

    /// <summary>
    /// Random bit flips anywhere in the b-tree pages, seeded: rows whose values were flipped stay in the tables
    /// for both tools (a record that agrees with itself cannot show a flipped character). Walden keeps at least
    /// every exact row <c>.recover</c> keeps, and on the rows both tools put in a table it has no more differing
    /// ones. Beyond that, Walden gives back the rows of orphaned pages (which <c>.recover</c> leaves in
    /// lost_and_found); they are as sound as any page's rows, so a flipped value on such a page comes back
    /// with its exact neighbours, and is counted apart. The cases here are a few per sample; set
    /// WALDEN_BITFLIP_SWEEP=N to add seeds 101..100+N of every sample and flip count
    /// (or =Sample:seed:flips,... for given cases).
    /// </summary>
    [Theory]
    [MemberData(nameof(BitFlipCases))]
    public async Task Recovery_OnRandomBitFlips_KeepsEveryExactRowOfShellRecoverAndNoMoreWrongOnesInTheTree(SampleKind sample, int seed, int flips)
    {
        using var temp = new TempDirectory();
        var pristine = temp.File("pristine.db");
        DamagedDatabases.Create(pristine, sample: sample);
        var original = DamagedDatabases.Rows(pristine);
        var damaged = temp.File("damaged.db");
        File.Copy(pristine, damaged);
        var what = DamagedDatabases.Damage(damaged, DamageKind.RandomBitFlips, seed, flips);

        var report = await WaldenRecovery.RecoverToAsync(damaged, temp.File("walden.db"));
        await DamagedDatabases.ShellRecoverAsync(damaged, temp.File("shell.db"));

        var walden = DamagedDatabases.Rows(temp.File("walden.db"));
        var shell = DamagedDatabases.Rows(temp.File("shell.db"));
        var shellKeys = shell.Select(Key).ToHashSet(StringComparer.Ordinal);
        var waldenExact = walden.Count(original.Contains);
        var shellExact = shell.Count(original.Contains);
        var shellWrong = shell.Count - shellExact;
        var waldenWrongBeside = walden.Count(r => !original.Contains(r) && shellKeys.Contains(Key(r)));
        var givenBack = walden.Where(r => !shellKeys.Contains(Key(r))).ToList();
        var givenBackWrong = givenBack.Count(r => !original.Contains(r));
        output.WriteLine($"| {sample} seed {seed} | {flips} flips | {original.Count} | Walden exact {waldenExact} | differing {walden.Count - waldenExact} " +
            $"(where .recover has the row {waldenWrongBeside}; given back {givenBack.Count}, of them differing {givenBackWrong}) | lost_and_found {report.LostAndFoundRows} " +
            $"| .recover exact {shellExact} | differing {shellWrong} | {what} |");
        foreach (var row in original.Where(r => shell.Contains(r) && !walden.Contains(r)).Take(10))
        {
            output.WriteLine($"kept by .recover only: {row[..Math.Min(row.Length, 160)]}");
        }

        foreach (var row in walden.Where(r => !original.Contains(r) && !shell.Contains(r)).Take(10))
        {
            output.WriteLine($"differing in Walden only: {row[..Math.Min(row.Length, 160)]}");
        }

        output.WriteLine(string.Join(" / ", report.Notes));
        if (Environment.GetEnvironmentVariable("WALDEN_RECOVERY_KEEP") is { Length: > 0 } keep)
        {
            var folder = Path.Combine(keep, $"{sample}-{seed}-{flips}");
            Directory.CreateDirectory(folder);
            foreach (var name in new[] { "pristine.db", "damaged.db", "walden.db", "shell.db" })
            {
                File.Copy(temp.File(name), Path.Combine(folder, name), overwrite: true);
            }
        }

        Assert.True(report.Usable, report.IntegrityCheck);
        Assert.True(waldenExact >= shellExact, $"Walden recovered {waldenExact} exact rows, .recover {shellExact}.");
        Assert.True(waldenWrongBeside <= shellWrong, $"Where both tools have a row, Walden kept {waldenWrongBeside} differing rows, .recover {shellWrong}.");
        Assert.True(givenBackWrong <= report.RowsReattributed, $"{givenBackWrong} differing rows that .recover has nowhere in its tables, {report.RowsReattributed} given back.");
    }

    /// <summary>The bit-flip cases: seeds 1-6 of the standard sample, two of each variant and flip count; more with WALDEN_BITFLIP_SWEEP.</summary>
    public static TheoryData<SampleKind, int, int> BitFlipCases()
    {
        var cases = new TheoryData<SampleKind, int, int>();
        foreach (var seed in Enumerable.Range(1, 6))
        {
            cases.Add(SampleKind.Standard, seed, 300);
        }

        cases.Add(SampleKind.NoIndexes, 1, 300);
        cases.Add(SampleKind.NoIndexes, 2, 300);
        cases.Add(SampleKind.WithoutRowidAndOverflow, 1, 300);
        cases.Add(SampleKind.WithoutRowidAndOverflow, 2, 300);
        cases.Add(SampleKind.Standard, 7, 100);
        cases.Add(SampleKind.Standard, 8, 800);
        var sweep = Environment.GetEnvironmentVariable("WALDEN_BITFLIP_SWEEP");
        if (sweep?.Contains(':', StringComparison.Ordinal) == true)
        {
            // One case or a few again, e.g. WALDEN_BITFLIP_SWEEP=Standard:107:300,NoIndexes:101:800
            foreach (var part in sweep.Split(',').Select(p => p.Split(':')))
            {
                cases.Add(Enum.Parse<SampleKind>(part[0]), int.Parse(part[1], CultureInfo.InvariantCulture), int.Parse(part[2], CultureInfo.InvariantCulture));
            }
        }
        else if (int.TryParse(sweep, out var more))
        {
            foreach (var seed in Enumerable.Range(101, more))
            {
                foreach (var sample in Enum.GetValues<SampleKind>())
                {
                    foreach (var flips in new[] { 100, 300, 800 })
                    {
                        cases.Add(sample, seed, flips);
                    }
                }
            }
        }

        return cases;
    }

    /// <summary>"table|rowid" (or "kv|key"): which row a recovered row claims to be.</summary>
    private static string Key(string row) => string.Join('|', row.Split('|').Take(2));
}
