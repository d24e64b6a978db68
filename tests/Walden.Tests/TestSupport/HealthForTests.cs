namespace Walden.Tests.TestSupport;

/// <summary>
/// Health thresholds for tests that assert a fault's reason is gone (or never came). A commit slower than the default
/// <see cref="WaldenHealthThresholds.SlowCommit"/> (1 s) is a real Degraded reason, but on a shared, loaded CI machine one
/// fsync can take that long, and such a test is not about commit speed: judged with the default it fails for the wrong reason.
/// </summary>
internal static class HealthForTests
{
    /// <summary>Every default threshold except slow commits, which never count.</summary>
    public static WaldenHealthThresholds IgnoringSlowCommits { get; } = new() { SlowCommit = TimeSpan.MaxValue };

    /// <summary>Asserts the database is Healthy by every threshold but slow commits; on failure xunit prints the reasons.</summary>
    public static void AssertHealthy(WaldenDatabase db)
    {
        var health = db.GetHealth(IgnoringSlowCommits);
        Assert.Empty(health.Reasons);
        Assert.Equal(WaldenHealthStatus.Healthy, health.Status);
    }
}
