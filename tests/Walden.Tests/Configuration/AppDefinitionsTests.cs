using Walden.Integrity;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Configuration;

/// <summary>Opening a database whose schema needs the application's own collations or functions.</summary>
public sealed class AppDefinitionsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task OpenAsync_WhenTheSchemaNeedsAnUnregisteredCollation_ThrowsAConfigurationErrorNamingItAndHowToRegisterIt()
    {
        var path = _dir.File("android.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.LocalizedCollation, path);

        var error = await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenDatabase.OpenAsync(path));

        Assert.Contains("LOCALIZED", error.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(WaldenOptions.ConfigureConnection), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAsync_WhenTheSchemaNeedsAnUnregisteredFunction_InAFullCheck_ThrowsAConfigurationErrorNamingIt()
    {
        var path = _dir.File("functions.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.AppFunctions, path);

        var error = await Assert.ThrowsAsync<WaldenConfigurationException>(
            () => WaldenDatabase.OpenAsync(path, new WaldenOptions { IntegrityCheck = WaldenIntegrityCheck.Full }));

        Assert.Matches("valid_email|domain_of", error.Message);
        Assert.Contains(nameof(WaldenOptions.ConfigureConnection), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAsync_WithTheCollationRegisteredThroughConfigureConnection_OpensAndWritesUnderItsRules()
    {
        var path = _dir.File("android.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.LocalizedCollation, path);
        var options = new WaldenOptions
        {
            IntegrityCheck = WaldenIntegrityCheck.Full,
            ConfigureConnection = connection => connection.CreateCollation("LOCALIZED", (a, b) => string.Compare(a, b, StringComparison.OrdinalIgnoreCase)),
        };

        await using var database = await WaldenDatabase.OpenAsync(path, options);
        var rows = await database.ReadAsync(connection => connection.Scalar<long>("SELECT count(*) FROM names WHERE name = 'NAME0'"));
        var duplicate = await Record.ExceptionAsync(() => database.WriteAsync(connection => connection.Exec("INSERT INTO names(name) VALUES ('NAME0')")));

        Assert.Equal(1, rows);
        Assert.NotNull(duplicate); // UNIQUE under the app's case-insensitive collation, as the app itself sees it
    }
}
