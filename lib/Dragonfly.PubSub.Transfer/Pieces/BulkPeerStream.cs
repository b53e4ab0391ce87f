using System.Buffers.Binary;
using System.Net.Sockets;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// A peer connection after its TLS 1.3 handshake agreed a bulk channel (<see cref="BulkKeys"/>):
/// the socket carries frames of <c>[plaintext length, 4 bytes big-endian][ciphertext][16-byte tag]</c>,
/// the length authenticated with the frame. A frame is at most <see cref="FrameSize"/> bytes of
/// plaintext. Compared with SslStream's
/// 16 KiB records, a piece costs a quarter of the AEAD calls and no copies between record buffers:
/// ciphertext is received into one buffer and decrypted straight into the reader's.
/// Authentication and revocation were settled by the handshake, as for <see cref="TlsPeerStream"/>.
/// One reader and one writer at a time.
/// </summary>
internal sealed class BulkPeerStream : PeerStream
{
    /// <summary>Plaintext bytes per frame sent: one receive low-water mark's worth, so a wake-up brings about one frame.</summary>
    public const int FrameSize = 64 * 1024;

    /// <summary>The largest frame accepted: what senders send, and a bound on what one frame may make this side hold.</summary>
    public const int MaxFrame = FrameSize;

    private const int HeaderLength = 4;
    private const int Overhead = HeaderLength + BulkCipher.TagLength;
    // Buffers grow on demand: a connection that only carries piece-map polls keeps 4 KiB at each end.
    private const int FirstBufferSize = 4 * 1024;

    private readonly Socket _socket;
    private readonly BulkKeys _keys;
    private readonly IDisposable _tls;
    private readonly ReceiveLowWater _lowWater;
    private byte[] _in;
    private int _inStart;
    private int _inEnd;
    private byte[]? _plain;
    private int _plainStart;
    private int _plainEnd;
    private byte[]? _out;
    private bool _broken;

    /// <param name="tls">The finished TLS session: kept only to be disposed with the connection.</param>
    /// <param name="received">Bytes already read from the socket past the key exchange (normally none).</param>
    public BulkPeerStream(Socket socket, ReceiveLowWater lowWater, BulkKeys keys, IDisposable tls, string? peerId, ReadOnlySpan<byte> received = default)
    {
        _socket = socket;
        _lowWater = lowWater;
        _keys = keys;
        _tls = tls;
        RemotePeerId = peerId;
        _in = new byte[Math.Max(FirstBufferSize, received.Length)];
        received.CopyTo(_in);
        _inEnd = received.Length;
    }

    public BulkAlgorithm Algorithm => _keys.Send.Algorithm;

    public override ReceiveLowWater LowWater => _lowWater;

    public override string? RemoteAddress => AddressOf(_socket);

    /// <summary>Ciphertext received but not opened, and plaintext opened but not read (a frame's plaintext is shorter than its ciphertext).</summary>
    public override int BufferedAhead => (_inEnd - _inStart) + (_plainEnd - _plainStart);

    /// <summary>Fills <paramref name="buffer"/> (as the TLS stream does); fewer bytes only when the peer closed the connection.</summary>
    /// <exception cref="IOException">A frame failed its check, was too large, or the connection ended inside one.</exception>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            if (_plainStart < _plainEnd)
            {
                var count = Math.Min(buffer.Length - filled, _plainEnd - _plainStart);
                _plain.AsSpan(_plainStart, count).CopyTo(buffer.Span[filled..]);
                _plainStart += count;
                filled += count;
                continue;
            }
            if (!await BufferAsync(HeaderLength, ct).ConfigureAwait(false))
            {
                return filled; // closed between frames: the end of the stream
            }
            var length = FrameLength();
            if (!await BufferAsync(Overhead + length, ct).ConfigureAwait(false))
            {
                throw Broken("the peer closed the connection in the middle of a frame");
            }
            var frame = _in.AsSpan(_inStart, Overhead + length);
            var header = frame[..HeaderLength];
            var ciphertext = frame.Slice(HeaderLength, length);
            var tag = frame[(HeaderLength + length)..];
            if (buffer.Length - filled >= length)
            {
                Open(header, ciphertext, tag, buffer.Span.Slice(filled, length));
                filled += length;
            }
            else
            {
                // The reader wants less than the frame (a response header): keep the rest for its next read.
                if (_plain is null || _plain.Length < length)
                {
                    _plain = new byte[Math.Max(length, FirstBufferSize)];
                }
                Open(header, ciphertext, tag, _plain.AsSpan(0, length));
                _plainStart = 0;
                _plainEnd = length;
            }
            _inStart += Overhead + length;
        }
        return filled;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct)
    {
        while (!buffer.IsEmpty)
        {
            var length = Math.Min(FrameSize, buffer.Length);
            if (_out is null || _out.Length < Overhead + length)
            {
                _out = new byte[Overhead + Math.Max(length, Math.Min(FrameSize, 2 * (_out?.Length ?? FirstBufferSize)))];
            }
            var frame = _out.AsSpan(0, Overhead + length);
            BinaryPrimitives.WriteInt32BigEndian(frame, length);
            _keys.Send.Seal(frame[..HeaderLength], buffer.Span[..length], frame.Slice(HeaderLength, length), frame[(HeaderLength + length)..]);
            var sending = _out.AsMemory(0, Overhead + length);
            while (!sending.IsEmpty)
            {
                var n = await _socket.SendAsync(sending, SocketFlags.None, ct).ConfigureAwait(false);
                sending = sending[n..];
            }
            buffer = buffer[length..];
        }
    }

    public override void Dispose()
    {
        _tls.Dispose();
        _socket.Dispose();
        _keys.Send.Dispose();
        _keys.Receive.Dispose();
    }

    /// <summary>The length of the frame at the start of the buffer, checked against <see cref="MaxFrame"/>.</summary>
    private int FrameLength()
    {
        var length = BinaryPrimitives.ReadInt32BigEndian(_in.AsSpan(_inStart, HeaderLength));
        if (length is < 1 or > MaxFrame)
        {
            throw Broken($"the peer sent a frame of {length} bytes (1 to {MaxFrame} allowed)");
        }
        return length;
    }

    private void Open(ReadOnlySpan<byte> header, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> tag, Span<byte> plaintext)
    {
        try
        {
            _keys.Receive.Open(header, ciphertext, tag, plaintext);
        }
        catch (IOException)
        {
            _broken = true;
            throw;
        }
    }

    /// <summary>Receives until <paramref name="count"/> bytes wait in the buffer; false if the peer closed the connection first.</summary>
    private async ValueTask<bool> BufferAsync(int count, CancellationToken ct)
    {
        if (_broken)
        {
            throw new IOException("the connection already failed: a frame was corrupt or cut off");
        }
        while (_inEnd - _inStart < count)
        {
            if (_inStart == _inEnd)
            {
                _inStart = _inEnd = 0;
            }
            // Room for the whole frame, and no receives into a sliver of space at the buffer's end.
            if (_in.Length - _inStart < count || (_inStart > 0 && _in.Length - _inEnd < FirstBufferSize))
            {
                MakeRoom(count);
            }
            var n = await _lowWater.ReceiveAsync(_in.AsMemory(_inEnd), ct).ConfigureAwait(false);
            if (n == 0)
            {
                if (_inEnd > _inStart && count == HeaderLength)
                {
                    throw Broken("the peer closed the connection in the middle of a frame header");
                }
                return false;
            }
            _inEnd += n;
        }
        return true;
    }

    /// <summary>Moves the buffered bytes to the front, growing the buffer to hold a frame of <paramref name="count"/> bytes and one more wake-up's worth.</summary>
    private void MakeRoom(int count)
    {
        var buffered = _inEnd - _inStart;
        var target = _in;
        if (_in.Length < count)
        {
            target = new byte[count + ReceiveLowWater.Mark];
        }
        _in.AsSpan(_inStart, buffered).CopyTo(target);
        _in = target;
        _inStart = 0;
        _inEnd = buffered;
    }

    private IOException Broken(string why)
    {
        _broken = true;
        return new IOException(why);
    }
}
