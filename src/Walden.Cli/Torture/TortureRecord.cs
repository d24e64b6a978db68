using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Cli.Torture;

/// <summary>
/// The record every torture worker appends: (worker, seq, payload, checksum). The checksum is the first
/// 8 bytes of SHA-256 over worker, seq and payload, so a torn, stale or mixed-up row cannot pass for a good one.
/// </summary>
internal static class TortureRecord
{
    /// <summary>
    /// No UNIQUE constraint on (worker, seq), on purpose: if the engine ever wrote a record twice (a batch
    /// replayed after a crash), a constraint would hide it as a failed insert; here the checker sees it.
    /// </summary>
    internal const string Schema =
        "CREATE TABLE IF NOT EXISTS torture_record(id INTEGER PRIMARY KEY, worker INTEGER NOT NULL, seq INTEGER NOT NULL, " +
        "payload BLOB NOT NULL, checksum INTEGER NOT NULL);" +
        "CREATE INDEX IF NOT EXISTS torture_record_worker_seq ON torture_record(worker, seq);";

    internal const string Insert = "INSERT INTO torture_record(worker, seq, payload, checksum) VALUES ($worker, $seq, $payload, $checksum)";

    /// <summary>Mostly small rows with a tail of large ones, so B-tree splits and overflow pages both happen.</summary>
    internal static byte[] NewPayload(Random random)
    {
        var length = random.Next(10) == 0 ? random.Next(1_000, 6_000) : random.Next(16, 512);
        var payload = new byte[length];
        random.NextBytes(payload);
        return payload;
    }

    internal static long Checksum(long worker, long seq, ReadOnlySpan<byte> payload)
    {
        var length = 16 + payload.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            BinaryPrimitives.WriteInt64LittleEndian(buffer, worker);
            BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(8), seq);
            payload.CopyTo(buffer.AsSpan(16));
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(buffer.AsSpan(0, length), hash);
            return BinaryPrimitives.ReadInt64LittleEndian(hash);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Whether the row the reader is on (columns worker, seq, payload, checksum) carries a valid checksum.</summary>
    internal static bool IsValid(SqliteDataReader row) =>
        !row.IsDBNull(2) && row.GetInt64(3) == Checksum(row.GetInt64(0), row.GetInt64(1), (byte[])row.GetValue(2));

    /// <summary>A plain Microsoft.Data.Sqlite connection outside Walden, as another program (or the checker) would open it.</summary>
    internal static SqliteConnection OpenPlain(string path, int busyTimeoutMs)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
        }.ToString());
        connection.Open();
        ConnectionFactory.Execute(connection, $"PRAGMA busy_timeout={busyTimeoutMs}");
        return connection;
    }
}
