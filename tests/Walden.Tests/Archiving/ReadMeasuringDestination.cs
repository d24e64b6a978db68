using Walden.Archiving;

namespace Walden.Tests.Archiving;

/// <summary>
/// A destination that measures what readers take from its objects: the most bytes asked for in one read, and the bytes
/// read from base objects (settable, to count from a chosen moment).
/// </summary>
internal sealed class ReadMeasuringDestination(IWaldenArchiveDestination inner) : IWaldenArchiveDestination
{
    public int LargestRead { get; private set; }

    public long BaseBytesRead { get; set; }

    public string Name => inner.Name;

    public void Put(string name, Stream content) => inner.Put(name, content);

    public IReadOnlyList<WaldenArchiveObject> List(string prefix) => inner.List(prefix);

    public Stream OpenRead(string name) => new Measured(inner.OpenRead(name), this, name.EndsWith(ArchiveFormat.BaseFileName, StringComparison.Ordinal));

    public void Delete(string name) => inner.Delete(name);

    private sealed class Measured(Stream stream, ReadMeasuringDestination owner, bool isBase) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => stream.CanSeek;

        public override bool CanWrite => false;

        public override long Length => stream.Length;

        public override long Position { get => stream.Position; set => stream.Position = value; }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            owner.LargestRead = Math.Max(owner.LargestRead, buffer.Length);
            var read = stream.Read(buffer);
            if (isBase)
            {
                owner.BaseBytesRead += read;
            }

            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => stream.Seek(offset, origin);

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                stream.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
