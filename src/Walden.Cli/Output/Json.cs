using System.Text.Json;
using System.Text.Json.Serialization;

namespace Walden.Cli.Output;

/// <summary>The one JSON shape every --json output uses: camelCase, indented, enums as strings.</summary>
internal static class Json
{
    internal static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    internal static void Write<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, Options));
}
