using System.Text;
using Microsoft.Win32.SafeHandles;
using Walden.Native;

namespace Walden.Cli.Bench;

/// <summary>
/// The second file of <see cref="ScenarioKind.BatchCeilingSecondFile"/>: each commit's rows appended and made durable
/// with <c>fdatasync</c> before the next transaction begins. The file is written with zeros ahead of use and fsynced once
/// at the start (as Walden's Sync archive log keeps its files allocated ahead), so each append changes data only and its
/// fdatasync is one device flush, not a journal commit too: the cheapest durable append this disk offers. The two
/// flushes run one after the other, as a single thread does; on this project's machine two flushes at once took as
/// long as two in a row (the device serializes them), so overlapping them would not lower this floor.
/// </summary>
internal sealed class SecondDurableFile : IDisposable
{
    private const long Size = 32L << 20; // wraps around: the bench measures flushes, not a growing archive
    private readonly string _path;
    private readonly SafeFileHandle _handle;
    private readonly byte[] _buffer = new byte[1 << 20];
    private long _offset;

    internal SecondDurableFile(string path)
    {
        _path = path;
        _handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.None);
        var zeros = new byte[1 << 20];
        for (long at = 0; at < Size; at += zeros.Length)
        {
            RandomAccess.Write(_handle, zeros, at);
        }

        Sync(full: true);
    }

    /// <summary>Appends rows <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> - 1 and waits for their fdatasync.</summary>
    internal void Append(Workload workload, long first, int count)
    {
        var length = 0;
        for (var i = 0; i < count; i++)
        {
            var row = workload.SequentialRow(first + i);
            var needed = Encoding.UTF8.GetMaxByteCount(row.TaskId.Length + row.Type.Length + row.Body.Length) + 8;
            if (length + needed > _buffer.Length)
            {
                break; // a transaction of thousands of rows: a megabyte of it stands for the rest (the flush is what is measured)
            }

            BitConverter.TryWriteBytes(_buffer.AsSpan(length), row.Ts);
            length += 8;
            length += Encoding.UTF8.GetBytes(row.TaskId, _buffer.AsSpan(length));
            length += Encoding.UTF8.GetBytes(row.Type, _buffer.AsSpan(length));
            length += Encoding.UTF8.GetBytes(row.Body, _buffer.AsSpan(length));
        }

        if (_offset + length > Size)
        {
            _offset = 0;
        }

        RandomAccess.Write(_handle, _buffer.AsSpan(0, length), _offset);
        _offset += length;
        Sync(full: false);
    }

    private void Sync(bool full)
    {
        var fd = (int)_handle.DangerousGetHandle();
        if ((full ? Posix.Fsync(fd) : Posix.Fdatasync(fd)) != 0)
        {
            throw new IOException($"The {(full ? "fsync" : "fdatasync")} of the bench's second file '{_path}' failed (errno {System.Runtime.InteropServices.Marshal.GetLastSystemError()}).");
        }
    }

    public void Dispose()
    {
        _handle.Dispose();
        File.Delete(_path);
    }
}
