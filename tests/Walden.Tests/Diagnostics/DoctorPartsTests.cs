using Walden.Diagnostics.Doctor;
using Walden.Native;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Diagnostics;

/// <summary>The parts of the doctor that read files and /proc: SQLite versions from library files, file systems from mountinfo.</summary>
public sealed class DoctorPartsTests
{
    [Fact]
    public void SqliteBuilds_ReadsTheVersionFromTheLibraryFile_AndKnowsWhichHaveTheWalResetBug()
    {
        var walden = SqliteBuilds.Read(SqliteLibrary.LoadedPath!);
        Assert.NotNull(walden);
        Assert.Equal("3.54.1", walden.Version);
        Assert.False(walden.HasWalResetBug);

        // Debian's libsqlite3 (what Python's sqlite3 module links here): 3.40.1, with the bug.
        var debian = Directory.EnumerateFiles("/usr/lib/x86_64-linux-gnu", "libsqlite3.so.0*").FirstOrDefault();
        if (debian is not null)
        {
            var build = SqliteBuilds.Read(debian);
            Assert.NotNull(build);
            Assert.Equal("3.40.1", build.Version);
            Assert.True(build.HasWalResetBug);
            Assert.StartsWith("2022-12-28 14:03:47 ", build.SourceId, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void SqliteBuilds_DoesNotTakeAProgramBuiltAgainstSqlitesHeaderForACopyOfSqlite()
    {
        // The 3.54.1 shell links Walden's library: it carries the source id (from sqlite3.h) but none of SQLite's code.
        Assert.Null(SqliteBuilds.Read(SqliteShell.BinaryPath));
        Assert.Null(SqliteBuilds.Read(ForeignProgram.Python));
    }

    [Theory]
    [InlineData(3_040_001, true)]
    [InlineData(3_051_002, true)]
    [InlineData(3_051_003, false)]
    [InlineData(3_052_000, true)]
    [InlineData(3_053_000, false)]
    [InlineData(3_054_001, false)]
    public void IsAffected_MatchesTheWalResetBugRange(int version, bool affected) => Assert.Equal(affected, SqliteBuilds.IsAffected(version));

    [Fact]
    public void FileSystems_FindsTheLongestMountPointHoldingThePath_AndJudgesSharesAsDanger()
    {
        string[] mountinfo =
        [
            "24 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
            "60 24 0:50 / /mnt/share rw,relatime shared:30 - nfs4 server:/export rw,vers=4.2",
            "61 24 0:51 / /mnt/c rw,noatime - 9p drvfs rw",
            "62 60 0:52 / /mnt/share/local\\040disk rw - xfs /dev/sdb1 rw",
        ];

        Assert.Equal("nfs4", FileSystems.Find(mountinfo, "/mnt/share/app/data.db")!.Type);
        Assert.Equal("xfs", FileSystems.Find(mountinfo, "/mnt/share/local disk/data.db")!.Type);
        Assert.Equal("ext4", FileSystems.Find(mountinfo, "/mnt/shared/data.db")!.Type);
        Assert.Equal(DoctorSeverity.Danger, FileSystems.Judge("nfs4").Severity);
        Assert.Equal(DoctorSeverity.Danger, FileSystems.Judge("cifs").Severity);
        Assert.Equal(DoctorSeverity.Danger, FileSystems.Judge("9p").Severity);
        Assert.Equal(DoctorSeverity.Danger, FileSystems.Judge("virtiofs").Severity);
        Assert.Equal(DoctorSeverity.Danger, FileSystems.Judge("fuse.sshfs").Severity);
        Assert.Equal(DoctorSeverity.Warning, FileSystems.Judge("fuse.bindfs").Severity);
        Assert.Equal(DoctorSeverity.Warning, FileSystems.Judge("overlay").Severity);
        Assert.Equal(DoctorSeverity.Ok, FileSystems.Judge("ext4").Severity);
    }
}
