using System.Text.Json;
using Walden.Files;

namespace Walden.Tests.Files;

public sealed class QuarantineManifestTests
{
    [Fact]
    public void ToJson_WritesByteForByteWhatEarlierVersionsWroteWithReflection()
    {
        var at = new DateTimeOffset(2026, 11, 21, 2, 0, 0, TimeSpan.Zero).AddTicks(1234567);
        var manifest = new QuarantineManifest("/srv/data/app.db", "replaced by restoring the backup '/b/app.db' (taken <then>) & more", at,
            [new QuarantinedFile("app.db", 40960), new QuarantinedFile("app.db-wal", 4152)], QuarantineManifest.DefaultNote);

        // What Quarantine wrote before the source-generated context: an anonymous object, reflection-based JSON.
        var earlier = new
        {
            originalPath = manifest.OriginalPath,
            reason = manifest.Reason,
            quarantinedAtUtc = at,
            files = manifest.Files.Select(file => new { name = file.Name, bytes = file.Bytes }),
            note = "Walden moved these files here instead of deleting them. Remove the folder once you no longer need them.",
        };

        Assert.Equal(JsonSerializer.Serialize(earlier, new JsonSerializerOptions { WriteIndented = true }), manifest.ToJson());
    }
}
