using Dragonfly.PubSub.Origins.Streams;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Origins.Files;

/// <summary>Bytes [position, end) of a file, read with <see cref="RandomAccess"/> at explicit offsets.</summary>
internal sealed class FileRangeStream(SafeFileHandle handle, long position, long end) : ReadOnlyStream
{
    private long _position = position;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(handle.IsClosed, this);
        var wanted = (int)Math.Min(buffer.Length, end - _position);
        if (wanted <= 0)
        {
            return 0;
        }
        var read = await RandomAccess.ReadAsync(handle, buffer[..wanted], _position, cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            throw new IOException($"file shrank while being read: ended at byte {_position}, expected {end}");
        }
        _position += read;
        return read;
    }

    public override int Read(Span<byte> buffer)
    {
        var wanted = (int)Math.Min(buffer.Length, end - _position);
        if (wanted <= 0)
        {
            return 0;
        }
        var read = RandomAccess.Read(handle, buffer[..wanted], _position);
        if (read == 0)
        {
            throw new IOException($"file shrank while being read: ended at byte {_position}, expected {end}");
        }
        _position += read;
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            handle.Dispose();
        }
        base.Dispose(disposing);
    }
}
