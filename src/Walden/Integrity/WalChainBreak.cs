using System.Buffers.Binary;
using Walden.Archiving;
using Walden.Files;

namespace Walden.Integrity;

/// <summary>
/// Committed transactions a -wal holds that SQLite ignores: its frame chain breaks (a frame's checksum fails, its salts
/// differ, or the WAL header's own checksum fails) and frames after the break still carry the header's salts, verify against
/// the checksum stored in the frame before them, and include at least one commit frame. SQLite's recovery stops at the first
/// frame that fails (wal.c, walIndexRecover), so every program sees the database as it was before the break, and the next
/// checkpoint or write destroys the later frames for good. Each frame header stores the running checksum through that frame,
/// so a frame after a damaged one still verifies when seeded from the damaged frame's stored checksum (or, when it is that
/// stored checksum that rotted, from the one computed over the damaged frame).
/// Not flagged: a torn or garbage tail (no commit frame verifies after the break), frames of an earlier WAL generation (other
/// salts: a WAL is overwritten after a RESTART checkpoint, not truncated), an uncommitted transaction's frames that a later
/// transaction partly overwrote (no commit frame among them).
/// </summary>
/// <param name="Wal">The -wal file.</param>
/// <param name="Frame">The frame where the chain breaks (1 for the first frame); 0 when the WAL header itself fails its checksum.</param>
/// <param name="Frames">Whole frames in the file.</param>
/// <param name="Why">What is wrong with that frame, in words.</param>
/// <param name="CommitsBefore">Committed transactions before the break (what SQLite reads).</param>
/// <param name="FramesPast">Frames after the break that verify.</param>
/// <param name="CommitsPast">Commit frames among them: committed transactions SQLite ignores.</param>
internal sealed record WalChainBreak(string Wal, int Frame, int Frames, string Why, int CommitsBefore, int FramesPast, int CommitsPast)
{
    /// <summary>Where the chain breaks, in words: "at frame 21 of 100", or "in its header".</summary>
    internal string Where => Frame == 0 ? "in its header" : $"at frame {Frame:N0} of {Frames:N0}";

    /// <summary>The facts, as one sentence: where, why, how much SQLite ignores.</summary>
    internal string Facts =>
        $"the write-ahead log '{Wal}' is damaged {Where} ({Why}): SQLite stops reading it there and ignores the " +
        $"{Plural(CommitsPast, "committed transaction")} in the {Plural(FramesPast, "intact frame")} after it " +
        $"(it reads the {Plural(CommitsBefore, "committed transaction")} before it)";

    /// <summary>What to do, for every command and the engine: keep the -wal, copy both files, recover.</summary>
    internal const string WhatToDo =
        "The next checkpoint, or the next program that writes the database, destroys those transactions for good. Keep the -wal: " +
        "while nothing uses the database, copy it together with its -wal to a safe place, and let no program write or checkpoint it " +
        "before that; then 'walden recover <db> --in-place' keeps the original with its -wal in quarantine and puts in its place a " +
        "database of what SQLite reads (the later transactions cannot be applied safely: they may depend on the damaged frame's page).";

    /// <summary>The finding of a check, with what to do.</summary>
    internal string Finding => char.ToUpperInvariant(Facts[0]) + Facts[1..] + ". " + WhatToDo;

    /// <summary>
    /// Looks at the -wal of <paramref name="databasePath"/> only where Walden may read it outside SQLite: nobody holds the
    /// database with SQLite's locks (a process that has it open recovered the WAL already and may be writing it), and this
    /// process has no descriptor on it or its companions (closing ours would drop that connection's locks). Null when there is no
    /// such break, no -wal with a frame, or the -wal cannot be read here.
    /// </summary>
    /// <param name="databasePath">The database (its real path: SQLite keeps the -wal beside a link's target).</param>
    /// <param name="openingHere">This process is opening the file through a WaldenDatabase (registered, no connection yet).</param>
    internal static WalChainBreak? Find(string databasePath, bool openingHere = false)
    {
        var real = OpenErrors.RealPath(databasePath) ?? Path.GetFullPath(databasePath);
        var wal = real + "-wal";
        if (DatabaseFiles.SizeOf(wal) is not > WalFrames.HeaderBytes + WalFrames.FrameHeaderBytes + 512
            || DatabaseFiles.For(real).OpenInThisProcess() is not null
            || LockProbe.FindHolder(real, openingHere) is { } holder && holder is not { Mode: "open", ProcessId: > 0 })
        {
            return null;
        }

        try
        {
            using var stream = DatabaseFiles.OpenRawRead(wal, "Reading the -wal outside SQLite");
            return Scan(stream, wal);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or WaldenDatabaseInUseException)
        {
            return null; // gone meanwhile, unreadable, or opened here since: SQLite's own open says what it can
        }
    }

    /// <summary>Scans a -wal's bytes (see the type's summary); null when its chain does not break before committed frames.</summary>
    internal static WalChainBreak? Scan(Stream stream, string wal)
    {
        var header = new byte[WalFrames.HeaderBytes];
        if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length)
        {
            return null;
        }

        var magic = BinaryPrimitives.ReadUInt32BigEndian(header);
        var pageSize = (int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8));
        if (!WalFrames.IsMagic(magic) || pageSize is < 512 or > 65536 || (pageSize & (pageSize - 1)) != 0)
        {
            return null; // not a WAL SQLite would read at all; nothing to compare frames with
        }

        var bigEndian = WalFrames.IsBigEndian(magic);
        var salt1 = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16));
        var salt2 = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(20));
        var stored = WalFrames.StoredChecksum(header.AsSpan(8)); // the header's checksum sits at bytes 24..31
        uint h1 = 0, h2 = 0;
        WalFrames.Checksum(header.AsSpan(0, 24), bigEndian, ref h1, ref h2);
        var headerValid = (h1, h2) == stored;
        if (headerValid && BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(4)) != WalFrames.Version)
        {
            return null; // SQLite refuses to open such a WAL (SQLITE_CANTOPEN) rather than ignore it: its open says so
        }


        var frameBytes = WalFrames.FrameHeaderBytes + pageSize;
        var frames = (int)Math.Min(int.MaxValue, (stream.Length - WalFrames.HeaderBytes) / frameBytes);
        var frame = new byte[frameBytes];
        WalChecksum? pageChecksum = null;
        var broken = 0;
        var why = "the checksum over its first 24 bytes does not match the one it stores";
        var commitsBefore = 0;
        // Seeds for the frame after the current one: the checksum the frame stores, and the one computed over it.
        var (seedStored, seedComputed) = (stored, (h1, h2));
        if (headerValid)
        {
            var (c1, c2) = stored;
            for (var i = 1; i <= frames; i++)
            {
                stream.ReadExactly(frame);
                var (before1, before2) = (c1, c2);
                if (!WalFrames.Continues(frame, salt1, salt2, bigEndian, pageSize, ref pageChecksum, ref c1, ref c2))
                {
                    broken = i;
                    why = BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(8)) != salt1 || BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(12)) != salt2
                        ? "its salts differ from the -wal header's"
                        : BinaryPrimitives.ReadUInt32BigEndian(frame) == 0 ? "its page number is 0" : "its checksum does not match";
                    (c1, c2) = (before1, before2);
                    WalFrames.Carry(frame, bigEndian, pageSize, ref pageChecksum, ref c1, ref c2);
                    (seedStored, seedComputed) = (WalFrames.StoredChecksum(frame), (c1, c2));
                    break;
                }

                if (BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(4)) != 0)
                {
                    commitsBefore++;
                }
            }

            if (broken == 0)
            {
                return null; // the chain holds to the last whole frame
            }
        }

        var (framesPast, commitsPast) = (0, 0);
        for (var i = broken + 1; i <= frames; i++)
        {
            stream.ReadExactly(frame);
            var (s1, s2) = seedStored;
            var verified = WalFrames.Continues(frame, salt1, salt2, bigEndian, pageSize, ref pageChecksum, ref s1, ref s2);
            var computed = (s1, s2);
            if (!verified && seedComputed != seedStored)
            {
                (s1, s2) = seedComputed; // the frame before kept its page but its stored checksum rotted
                verified = WalFrames.Continues(frame, salt1, salt2, bigEndian, pageSize, ref pageChecksum, ref s1, ref s2);
            }

            if (verified)
            {
                framesPast++;
                commitsPast += BinaryPrimitives.ReadUInt32BigEndian(frame.AsSpan(4)) != 0 ? 1 : 0;
            }

            (seedStored, seedComputed) = (WalFrames.StoredChecksum(frame), computed);
        }

        return commitsPast == 0 ? null : new WalChainBreak(wal, broken, frames, why, commitsBefore, framesPast, commitsPast);
    }

    private static string Plural(int count, string what) => count == 1 ? $"1 {what}" : $"{count:N0} {what}s";
}
