using System.Globalization;

namespace Walden.Cli.Commands;

/// <summary>
/// A moment given on the command line (<c>walden restore --at</c>), in ISO-8601's extended form only: a date
/// (<c>2026-11-30</c>, its midnight), or a date and time with minutes, optional seconds and an optional fraction (any number of
/// digits after '.' or ',', truncated to 100 ns) (<c>2026-11-30T14:05</c>, <c>2026-11-30T14:05:00.250</c>), followed by <c>Z</c>, an offset (<c>+01:00</c>,
/// <c>+0100</c>, <c>+01</c>) or nothing: then it is UTC.
/// <see cref="DateTimeOffset.TryParse(string, IFormatProvider, DateTimeStyles, out DateTimeOffset)"/> took "12/01/2026"
/// (December or January?), "Dec 1 2026" and other forms whose reading depends on habit, not on a standard.
/// </summary>
internal static partial class IsoMoment
{
    /// <summary>How a moment is written, for messages and help.</summary>
    internal const string Forms =
        "2026-11-30T14:05:00Z, 2026-11-30T14:05:00.250+01:00 or 2026-11-30 (its midnight); UTC when no offset is given";

    private static readonly string[] Formats = BuildFormats();

    /// <summary>The moment <paramref name="text"/> names, or false when it is not one of the ISO-8601 forms above.</summary>
    internal static bool TryParse(string text, out DateTimeOffset moment) =>
        DateTimeOffset.TryParseExact(ToTicks(text), Formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out moment);

    // ISO 8601 allows any number of fraction digits and a decimal comma: Go and 'date +%N' write 9 digits, 'date -Ins' a comma.
    // .NET keeps 100 ns ticks (7 digits), so further digits are dropped (truncated, never rounded into the next tick).
    private static string ToTicks(string text)
    {
        var match = Fraction().Match(text);
        return match.Success
            ? $"{match.Groups["time"].Value}.{match.Groups["digits"].Value[..Math.Min(7, match.Groups["digits"].Length)]}{match.Groups["zone"].Value}"
            : text;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^(?<time>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})[.,](?<digits>\d+)(?<zone>[^\d].*)?$",
        System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex Fraction();

    private static string[] BuildFormats()
    {
        const string date = "yyyy'-'MM'-'dd";
        // A fraction of 1 to 7 digits, each length its own form: no trailing dot alone, no eighth digit.
        string[] times = ["HH':'mm", "HH':'mm':'ss", .. Enumerable.Range(1, 7).Select(digits => "HH':'mm':'ss'.'" + new string('f', digits))];
        string[] zones = ["", "'Z'", "zzz", "zz"];
        var formats = new List<string> { date };
        foreach (var time in times)
        {
            foreach (var zone in zones)
            {
                formats.Add($"{date}'T'{time}{zone}");
            }
        }

        return [.. formats];
    }
}
