using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace Walden.Writing;

/// <summary>
/// Prepared commands kept per connection, so a hot statement is parsed once, not once per write.
/// Microsoft.Data.Sqlite keeps a command's prepared statement while its text is unchanged; this keeps
/// the command itself.
/// </summary>
internal sealed class CommandCache
{
    private static readonly ConditionalWeakTable<SqliteConnection, CommandCache> Caches = new();
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    internal static CommandCache For(SqliteConnection connection) => Caches.GetValue(connection, static _ => new CommandCache());

    internal SqliteCommand Get(SqliteConnection connection, string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            command.Prepare();
            _commands.Add(sql, command);
        }

        command.Parameters.Clear();
        return command;
    }

    internal static void Release(SqliteConnection connection)
    {
        if (Caches.TryGetValue(connection, out var cache))
        {
            foreach (var command in cache._commands.Values)
            {
                command.Dispose();
            }

            cache._commands.Clear();
            Caches.Remove(connection);
        }
    }
}
