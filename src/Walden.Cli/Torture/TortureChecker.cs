using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Cli.Torture;

/// <summary>
/// Checks a database after a crash, against the acknowledgements the supervisor received: runs
/// <c>PRAGMA integrity_check</c>, reads every record and verifies its checksum, counts records present
/// twice, and looks up every acknowledged record. Runs only while no worker is alive.
/// </summary>
internal static class TortureChecker
{
    private const int MaxExamples = 10;

    /// <param name="path">The database (or a copy of it).</param>
    /// <param name="acknowledged">For each worker, the sequence numbers it acknowledged and that must be present.</param>
    internal static CheckResult Check(string path, IReadOnlyDictionary<long, long[]> acknowledged)
    {
        var problems = new List<string>();
        var integrityOk = true;
        long rows = 0, damaged = 0, duplicates = 0, lost = 0;
        try
        {
            using var connection = TortureRecord.OpenPlain(path, busyTimeoutMs: 10_000);
            foreach (var line in IntegrityCheck(connection))
            {
                if (line != "ok")
                {
                    integrityOk = false;
                    Note(problems, $"integrity_check: {line}");
                }
            }

            var present = new Dictionary<long, HashSet<long>>();
            using (var command = connection.CreateCommand())
            {
                command.CommandText = "SELECT worker, seq, payload, checksum, id FROM torture_record";
                using var row = command.ExecuteReader();
                while (row.Read())
                {
                    rows++;
                    if (row.IsDBNull(0) || row.IsDBNull(1))
                    {
                        // Only a damaged file holds a record without its worker or sequence (the columns are NOT NULL when written).
                        damaged++;
                        Note(problems, $"damaged record: id {row.GetInt64(4)} has no worker or sequence number");
                        continue;
                    }

                    var worker = row.GetInt64(0);
                    var seq = row.GetInt64(1);
                    if (!TortureRecord.IsValid(row))
                    {
                        damaged++;
                        Note(problems, $"damaged record: id {row.GetInt64(4)}, worker {worker}, seq {seq} has a bad checksum");
                    }

                    if (!present.TryGetValue(worker, out var seqs))
                    {
                        present[worker] = seqs = [];
                    }

                    if (!seqs.Add(seq))
                    {
                        duplicates++;
                        Note(problems, $"duplicate record: worker {worker}, seq {seq} is present more than once (id {row.GetInt64(4)})");
                    }
                }
            }

            foreach (var (worker, acks) in acknowledged)
            {
                present.TryGetValue(worker, out var seqs);
                foreach (var seq in acks)
                {
                    if (seqs is null || !seqs.Contains(seq))
                    {
                        lost++;
                        Note(problems, $"lost write: worker {worker}, seq {seq} was acknowledged but is not in the database");
                    }
                }
            }
        }
        catch (SqliteException ex)
        {
            // A database that cannot even be read through is an integrity failure, not a crash of the checker.
            integrityOk = false;
            Note(problems, $"reading the database failed: SQLite error {ex.SqliteErrorCode}: {ex.Message}");
        }

        return new CheckResult(integrityOk, rows, lost, duplicates, damaged, problems);
    }

    /// <summary>Deletes the records of workers below <paramref name="firstKeptWorker"/>: they were verified in enough cycles already.</summary>
    internal static void Prune(string path, long firstKeptWorker)
    {
        using var connection = TortureRecord.OpenPlain(path, busyTimeoutMs: 10_000);
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM torture_record WHERE worker < $first";
        command.Parameters.AddWithValue("$first", firstKeptWorker);
        command.ExecuteNonQuery();
    }

    /// <summary>The highest worker id already in the file, so a run on an existing database never reuses one.</summary>
    internal static long NextWorkerId(string path)
    {
        using var connection = TortureRecord.OpenPlain(path, busyTimeoutMs: 10_000);
        ConnectionFactory.Execute(connection, TortureRecord.Schema);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT coalesce(max(worker), 0) + 1 FROM torture_record";
        return (long)command.ExecuteScalar()!;
    }

    private static List<string> IntegrityCheck(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check(20)";
        command.CommandTimeout = 0;
        using var row = command.ExecuteReader();
        var lines = new List<string>();
        while (row.Read())
        {
            lines.Add(row.GetString(0));
        }

        return lines;
    }

    private static void Note(List<string> problems, string problem)
    {
        if (problems.Count < MaxExamples)
        {
            problems.Add(problem);
        }
    }
}

/// <summary>What the checker found in one database after one cycle.</summary>
internal sealed record CheckResult(bool IntegrityOk, long Rows, long Lost, long Duplicates, long Damaged, IReadOnlyList<string> Problems)
{
    internal bool Clean => IntegrityOk && Lost == 0 && Duplicates == 0 && Damaged == 0;
}
