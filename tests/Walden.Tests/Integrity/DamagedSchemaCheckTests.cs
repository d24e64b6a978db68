using Walden.Integrity;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Integrity;

/// <summary>
/// A database whose schema on page 1 is damaged (one byte of a CREATE statement, or page 1's body lost behind an intact
/// header) is corrupt: SQLite answers SQLITE_CORRUPT, "malformed database schema". walden check called that "cannotCheck",
/// exit 2, the code of a missing file or a wrong argument, so a script that recovers on exit 1 never did, while the doctor
/// and backup called the same file damaged.
/// </summary>
public sealed class DamagedSchemaCheckTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("a byte of its CREATE statement")]
    [InlineData("page 1's body, its header intact")]
    public async Task Check_OfADatabaseWhoseSchemaIsDamaged_SaysCorrupt_AndExits1(string damaged)
    {
        var path = _dir.File("app.db");
        Assert.Equal(0, await ForeignProgram.RunPythonAsync("""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.execute('CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL)')
            for i in range(200):
                c.execute("INSERT INTO django_session VALUES (?, ?)", ("k%d" % i, "d" * 100))
            c.commit()
            c.close()
            """, path));
        var bytes = await File.ReadAllBytesAsync(path);
        if (damaged == "a byte of its CREATE statement")
        {
            var create = System.Text.Encoding.ASCII.GetBytes("CREATE TABLE \"django_session\" (");
            var at = bytes.AsSpan().IndexOf(create);
            Assert.True(at > 0);
            bytes[at + create.Length - 1] = (byte)')';
        }
        else
        {
            Array.Clear(bytes, 100, 4096 - 100);
        }

        await File.WriteAllBytesAsync(path, bytes);

        Assert.Equal(WaldenFileStatus.Corrupt, WaldenIntegrity.CheckFile(path).Status);
        var (exit, stdout, stderr) = await WaldenCli.RunAsync("check", path, "--json");
        Assert.Equal(1, exit);
        Assert.Contains("\"corrupt\"", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("cannotCheck", stdout + stderr, StringComparison.Ordinal);
    }
}
