namespace Walden.Configuration;

/// <summary>Quoting of names and text for SQL that Walden builds (lang_keywords.html: a name in double quotes, text in single).</summary>
internal static class SqlText
{
    /// <summary><paramref name="identifier"/> in double quotes, any double quote in it doubled.</summary>
    internal static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary><paramref name="text"/> as a string literal, any single quote in it doubled.</summary>
    internal static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";
}
