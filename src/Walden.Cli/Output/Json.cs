using System.Text.Json;
using System.Text.Json.Serialization;

namespace Walden.Cli.Output;

/// <summary>The one JSON shape every --json output uses: camelCase, indented, enums as strings.</summary>
internal static class Json
{
    internal static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        // Paths and messages stay readable ('x' rather than \u0027x\u0027); this is output for scripts and people, never HTML.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    internal static void Write<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, Options));
}
