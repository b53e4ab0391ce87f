using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// How many bytes the kernel gathers on a peer connection before it wakes a pending read
/// (<c>SO_RCVLOWAT</c>). Behind a 100 Mbit/s link a piece arrives a few packets at a time: perf
/// counted ~5.6 KB per receive in a swarm, each wake-up paying an epoll return, a receive, a context
/// switch and the async chain above it (SslStream, the read-ahead, the fetcher). Gathering
/// <see cref="Mark"/> bytes per wake-up pays that about once per 64 KiB instead.
/// <para>
/// A read must never wait for bytes that will not come, so the mark is raised only while the
/// socket is sure to deliver at least that many more: the fetcher <see cref="Promise">promises</see>
/// the end of a piece's response once its header said how long the body is (with TLS the
/// ciphertext is longer than the plaintext, so the plaintext length is a lower bound), and the mark
/// drops back to 1 byte for the last <see cref="Mark"/> bytes and for everything else (headers,
/// short answers, the server side, which never promises).
/// </para>
/// Every receive of a peer connection goes through <see cref="ReceiveAsync"/>, the plain-TCP
/// stream's and the TLS read-ahead's alike, so the count of bytes received is the socket's own.
/// One reader at a time, as the stream it belongs to.
/// </summary>
internal sealed class ReceiveLowWater(Socket socket)
{
    /// <summary>Bytes per wake-up while a piece's body streams in.</summary>
    public const int Mark = 64 * 1024;

    private long _received;
    private long _promised;
    private int _current = 1;
    private bool _unsupported;

    /// <summary>Bytes read from the socket so far (ciphertext, with TLS).</summary>
    public long Received => _received;

    /// <summary>The socket will deliver at least up to this position of <see cref="Received"/> (an answer the peer is sending).</summary>
    public void Promise(long position) => _promised = Math.Max(_promised, position);

    /// <summary>Receives from the socket: at least one byte, or 0 when the other side closed the connection.</summary>
    // Pooled: a piece costs dozens of receives, and a boxed state machine per receive would be garbage.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct)
    {
        SetMark();
        var n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct).ConfigureAwait(false);
        _received += n;
        return n;
    }

    /// <summary>Gathers <see cref="Mark"/> bytes per wake-up while that many are sure to come, else wakes at once.</summary>
    private void SetMark()
    {
        var wanted = _promised - _received >= Mark ? Mark : 1;
        if (wanted == _current || _unsupported)
        {
            return;
        }
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater, wanted);
            _current = wanted;
        }
        catch (Exception e) when (e is SocketException or PlatformNotSupportedException)
        {
            _unsupported = true; // reads then wake as data trickles in, as without the mark
        }
        catch (ObjectDisposedException)
        {
            // the connection is closing; the receive that follows fails and says so
        }
    }
}
