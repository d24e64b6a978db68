using Walden.Cli.Commands;

namespace Walden.Tests.Cli;

/// <summary>
/// <c>walden restore --at</c> takes ISO-8601's extended forms only, UTC when no offset is given. It took anything
/// <see cref="DateTimeOffset.TryParse(string, IFormatProvider, System.Globalization.DateTimeStyles, out DateTimeOffset)"/>
/// reads with the invariant culture: "12/01/2026" (read as December 1st, January 12th to half the world), "Dec 1 2026".
/// </summary>
public sealed class IsoMomentTests
{
    public static TheoryData<string, string> Accepted => new()
    {
        { "2026-11-30", "2026-11-30T00:00:00.0000000+00:00" },
        { "2026-11-30T14:05", "2026-11-30T14:05:00.0000000+00:00" },
        { "2026-11-30T14:05Z", "2026-11-30T14:05:00.0000000+00:00" },
        { "2026-11-30T14:05:09", "2026-11-30T14:05:09.0000000+00:00" },
        { "2026-11-30T14:05:09Z", "2026-11-30T14:05:09.0000000+00:00" },
        { "2026-11-30T14:05:09.5Z", "2026-11-30T14:05:09.5000000+00:00" },
        { "2026-11-30T14:05:09.1234567Z", "2026-11-30T14:05:09.1234567+00:00" },
        { "2026-11-30T14:05:09.250", "2026-11-30T14:05:09.2500000+00:00" },
        { "2026-11-30T14:05:09+01:00", "2026-11-30T14:05:09.0000000+01:00" },
        { "2026-11-30T14:05:09.250-05:30", "2026-11-30T14:05:09.2500000-05:30" },
        { "2026-11-30T14:05:09+0100", "2026-11-30T14:05:09.0000000+01:00" },
        { "2026-11-30T14:05:09+01", "2026-11-30T14:05:09.0000000+01:00" },
        // Any number of fraction digits (Go, date +%N) and a decimal comma (date -Ins), truncated to .NET's 100 ns ticks.
        { "2026-12-03T15:42:19.12345678Z", "2026-12-03T15:42:19.1234567+00:00" },
        { "2026-12-03T15:42:19.123456789Z", "2026-12-03T15:42:19.1234567+00:00" },
        { "2026-12-03T15:42:19,123456789+00:00", "2026-12-03T15:42:19.1234567+00:00" },
        { "2026-12-03T15:42:19,5", "2026-12-03T15:42:19.5000000+00:00" },
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void AnIsoMoment_IsRead_AsUtcWhenItNamesNoOffset(string text, string expected)
    {
        Assert.True(IsoMoment.TryParse(text, out var moment), text);
        Assert.Equal(expected, moment.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("12/01/2026")]
    [InlineData("12/01/2026 14:05:00")]
    [InlineData("Dec 1 2026")]
    [InlineData("1 December 2026 14:05")]
    [InlineData("Tue, 01 Dec 2026 14:05:00 GMT")]
    [InlineData("2026/12/01")]
    [InlineData("01.12.2026")]
    [InlineData("2026-12-01 14:05:00Z")]
    [InlineData("2026-12-01T14:05:00 +01:00")]
    [InlineData("2026-12-01T14:05:00.Z")]
    [InlineData("2026-12-01T14:05:00,Z")]
    [InlineData("2026-12-01T14:05:00,12x")]
    [InlineData("2026-12-01T14")]
    [InlineData("2026-12-01Z")]
    [InlineData("2026-12-01t14:05:00z")]
    [InlineData("20261201T140500Z")]
    [InlineData("2026-13-01")]
    [InlineData("2026-12-01T24:00:00Z")]
    [InlineData(" 2026-12-01")]
    [InlineData("2026-12-01T14:05:00+1")]
    [InlineData("yesterday")]
    [InlineData("")]
    public void AnythingElse_IsRefused(string text) => Assert.False(IsoMoment.TryParse(text, out _), text);
}
