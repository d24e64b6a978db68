using System.Globalization;

namespace Walden.Diagnostics.Doctor;

/// <summary>One SQLite a process has mapped, named for what it is.</summary>
/// <param name="Build">The file and the version it records.</param>
/// <param name="What">What it is, in words: "Python's sqlite3 module (_sqlite3, through the system libsqlite3)", "better-sqlite3", ...</param>
internal sealed record MappedSqlite(SqliteBuild Build, string What)
{
    public override string ToString() => $"{What} {Build.VersionText} ({Build.File})";
}

/// <summary>
/// Which SQLite libraries a process has mapped, read from /proc/&lt;pid&gt;/maps and the files themselves (see
/// <see cref="SqliteBuilds"/>): every mapped file whose name says SQLite, every Node addon (<c>.node</c>), and the executable
/// (Node 22+ carries <c>node:sqlite</c> inside it; Go, Rust and other programs often link SQLite in statically). A copy of SQLite
/// compiled into a library with an unrelated name (Firefox's libnss3, for one) is not looked for. Processes of other users
/// are readable only by root.
/// </summary>
internal static class ProcessSqlite
{
    /// <summary>The SQLite copies process <paramref name="pid"/> has mapped; empty when none or when its maps cannot be read.</summary>
    internal static IReadOnlyList<MappedSqlite> Of(int pid)
    {
        var folder = "/proc/" + pid.ToString(CultureInfo.InvariantCulture);
        string[] lines;
        string? executable;
        try
        {
            lines = File.ReadAllLines(folder + "/maps");
            executable = new FileInfo(folder + "/exe").LinkTarget;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }

        var paths = lines.Select(PathOf).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
        var python = paths.Any(p => Path.GetFileName(p).StartsWith("_sqlite3", StringComparison.Ordinal));
        var found = new List<MappedSqlite>();
        foreach (var path in paths)
        {
            var name = Path.GetFileName(path);
            var isExecutable = path == executable;
            if (!isExecutable && !name.Contains("sqlite", StringComparison.OrdinalIgnoreCase) && !name.EndsWith(".node", StringComparison.Ordinal))
            {
                continue;
            }

            // Read through the process's own root, so a process in a container is read from the files it really maps.
            if ((SqliteBuilds.Read(folder + "/root" + path) ?? SqliteBuilds.Read(path)) is { } build)
            {
                found.Add(new MappedSqlite(build with { File = path }, Name(path, isExecutable, python)));
            }
        }

        return found;
    }

    /// <summary>What a file holding SQLite is, from its name and the process it is mapped in.</summary>
    internal static string Name(string path, bool isExecutable, bool pythonSqliteModule)
    {
        var name = Path.GetFileName(path);
        if (isExecutable)
        {
            return name is "node" or "nodejs"
                ? "Node's built-in node:sqlite (linked into the node executable)"
                : $"SQLite linked into the executable '{name}'";
        }

        return name switch
        {
            _ when name.StartsWith("libwalden_sqlite3", StringComparison.Ordinal) => "Walden's own SQLite build",
            _ when name.StartsWith("libe_sqlite3", StringComparison.Ordinal) || name.StartsWith("e_sqlite3", StringComparison.Ordinal) =>
                "e_sqlite3 (SQLitePCLRaw, as Microsoft.Data.Sqlite and EF Core load it)",
            _ when name.StartsWith("better_sqlite3", StringComparison.Ordinal) => "better-sqlite3 (Node addon)",
            _ when name is "node_sqlite3.node" or "sqlite3.node" => "the Node 'sqlite3' package",
            _ when name.StartsWith("_sqlite3", StringComparison.Ordinal) => "Python's sqlite3 module (_sqlite3, SQLite linked in)",
            _ when name.StartsWith("libsqlite3", StringComparison.Ordinal) && pythonSqliteModule =>
                "Python's sqlite3 module (_sqlite3, through the system libsqlite3)",
            _ when name.StartsWith("libsqlite3", StringComparison.Ordinal) => "the system libsqlite3",
            _ when name.Contains("sqlitejdbc", StringComparison.OrdinalIgnoreCase) => "sqlite-jdbc (Java)",
            _ => $"SQLite in '{name}'",
        };
    }

    /// <summary>The file of a maps line (<c>start-end perms offset dev inode path</c>), or null for an anonymous or deleted mapping.</summary>
    private static string? PathOf(string line)
    {
        var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
        return fields.Length == 6 && fields[5].StartsWith('/') && !fields[5].EndsWith(" (deleted)", StringComparison.Ordinal)
            ? fields[5].Trim()
            : null;
    }
}
