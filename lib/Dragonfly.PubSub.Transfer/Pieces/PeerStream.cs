namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// One peer-protocol connection, in plain TCP (<see cref="SocketPeerStream"/>, with sendfile) or in
/// TLS 1.3 (<see cref="TlsPeerStream"/>, or after its handshake <see cref="BulkPeerStream"/>). <see cref="PieceServer"/> and <see cref="PieceFetcher"/>
/// speak <see cref="PieceProtocol"/> over either without knowing which.
/// </summary>
internal abstract class PeerStream : IDisposable
{
    /// <summary>The other side's address, for logs; null once the socket is gone.</summary>
    public abstract string? RemoteAddress { get; }

    /// <summary>The other side's peer id from its certificate (TLS), or null (plain TCP: nobody vouches for it).</summary>
    public string? RemotePeerId { get; protected init; }

    /// <summary>
    /// Reads into <paramref name="buffer"/>: at least one byte, or (TLS) all of it, so each call
    /// moves a large block rather than one record. 0 = the other side closed the connection.
    /// </summary>
    public abstract ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct);

    public abstract ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct);

    /// <summary>Bytes read from the socket so far and how many the kernel gathers per wake-up (see <see cref="Pieces.ReceiveLowWater"/>).</summary>
    public abstract ReceiveLowWater LowWater { get; }

    /// <summary>
    /// At most how many of the bytes received from the socket (<see cref="Pieces.ReceiveLowWater.Received"/>) this stream
    /// holds that its reader has not taken yet (read ahead, or decrypted and kept): an answer that starts after what the
    /// reader took may have that many bytes in already. Pipelined requests need it to promise the end of an answer.
    /// </summary>
    public abstract int BufferedAhead { get; }

    public abstract void Dispose();

    /// <summary>A socket's remote address for logs; null once the socket is gone.</summary>
    protected static string? AddressOf(System.Net.Sockets.Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint?.ToString();
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            return null;
        }
    }
}
