using Walden.Native;

namespace Walden.Tests.Native;

public sealed class SqliteLibraryTests
{
    [Theory]
    [InlineData(3_035_005, "3.35.5")] // SQLitePCLRaw.bundle_e_sqlite3 2.0.6
    [InlineData(3_040_001, "3.40.1")] // Debian 12
    [InlineData(3_051_002, "3.51.2")] // the last release with the bug
    [InlineData(3_052_000, "3.52.0")] // withdrawn, without the fix
    public void EnsureSupported_RefusesALibraryWithTheWalResetBug(int number, string version)
    {
        var error = Assert.Throws<WaldenConfigurationException>(() => SqliteLibrary.EnsureSupported(number, version));
        Assert.Contains("WAL-reset bug", error.Message, StringComparison.Ordinal);
        Assert.Contains(version, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(3_051_003, "3.51.3")]
    [InlineData(3_053_000, "3.53.0")]
    [InlineData(3_054_001, "3.54.1")]
    public void EnsureSupported_AcceptsAFixedLibrary(int number, string version) =>
        SqliteLibrary.EnsureSupported(number, version);

    [Fact]
    public void TheLoadedLibrary_IsWaldensOwn3541()
    {
        Assert.Equal("3.54.1", SqliteLibrary.Version);
        Assert.Equal(3_054_001, SqliteLibrary.VersionNumber);
        SqliteLibrary.EnsureSupported();
    }
}
