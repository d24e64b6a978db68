using Microsoft.Data.Sqlite;
using Walden.Writing;

namespace Walden;

/// <summary>Helpers for code that runs inside <see cref="WaldenDatabase.WriteAsync{T}"/> and <see cref="WaldenDatabase.ReadAsync{T}"/>.</summary>
public static class WaldenCommandExtensions
{
    /// <summary>
    /// Returns a prepared command for <paramref name="sql"/> that Walden keeps for this connection, so the
    /// statement is parsed once instead of at every write. Its parameters are cleared each time it is
    /// handed out: add them again (<c>command.Parameters.AddWithValue("$id", 42)</c>). Do not dispose it.
    /// </summary>
    /// <param name="connection">The connection passed to a Walden write or read delegate.</param>
    /// <param name="sql">The statement text.</param>
    public static SqliteCommand GetCachedCommand(this SqliteConnection connection, string sql)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentException.ThrowIfNullOrWhiteSpace(sql);
        return CommandCache.For(connection).Get(connection, sql);
    }
}
