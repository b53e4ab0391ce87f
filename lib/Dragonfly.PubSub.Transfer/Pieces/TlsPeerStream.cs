using System.Net.Security;
using System.Net.Sockets;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// The TLS 1.3 peer connection: an authenticated <see cref="SslStream"/> over the socket. Reads
/// fill the caller's buffer (many records per call) so the per-read costs (hashing, rate limits,
/// timers) are paid per block, not per 16 KiB record; below it, <see cref="TlsRecordStream"/>
/// receives ahead and sends the records of one write together (fewer system calls per block).
/// </summary>
internal sealed class TlsPeerStream : PeerStream
{
    private readonly Socket _socket;
    private readonly SslStream _ssl;
    private readonly TlsRecordStream _records;

    private TlsPeerStream(Socket socket, SslStream ssl, TlsRecordStream records, string? peerId)
    {
        _socket = socket;
        _ssl = ssl;
        _records = records;
        RemotePeerId = peerId;
    }

    public override ReceiveLowWater LowWater => _records.LowWater;

    public string NegotiatedCipher => _ssl.NegotiatedCipherSuite.ToString();

    public override string? RemoteAddress
    {
        get
        {
            try
            {
                return _socket.RemoteEndPoint?.ToString();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return null;
            }
        }
    }

    /// <summary>Server side: TLS handshake with a required client certificate (checked by <paramref name="tls"/>).</summary>
    /// <exception cref="PeerRefusedException">The client is not a member of the fleet, or is revoked.</exception>
    public static async ValueTask<TlsPeerStream> AcceptAsync(Socket socket, PeerTls tls, CancellationToken ct)
    {
        var records = new TlsRecordStream(new NetworkStream(socket, ownsSocket: false), new ReceiveLowWater(socket));
        var ssl = new SslStream(records, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsServerAsync(tls.ServerOptions(), ct).ConfigureAwait(false);
            var peerId = PeerTls.PeerIdOf(ssl.RemoteCertificate)
                ?? throw new PeerRefusedException("the client sent no certificate");
            if (tls.IsRevoked(peerId))
            {
                throw new PeerRefusedException($"peer {peerId} is revoked");
            }
            return new TlsPeerStream(socket, ssl, records, peerId);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Client side: TLS handshake; the server's certificate must name <paramref name="expectedPeerId"/>.</summary>
    /// <exception cref="PeerRefusedException">The parent is not who the scheduler said, or is revoked.</exception>
    public static async ValueTask<TlsPeerStream> ConnectAsync(Socket socket, PeerTls tls, string expectedPeerId, CancellationToken ct)
    {
        var records = new TlsRecordStream(new NetworkStream(socket, ownsSocket: false), new ReceiveLowWater(socket));
        var ssl = new SslStream(records, leaveInnerStreamOpen: false);
        try
        {
            await ssl.AuthenticateAsClientAsync(tls.ClientOptions(expectedPeerId), ct).ConfigureAwait(false);
            var peerId = PeerTls.PeerIdOf(ssl.RemoteCertificate);
            if (!string.Equals(peerId, expectedPeerId, StringComparison.Ordinal))
            {
                throw new PeerRefusedException($"the parent's certificate names {peerId ?? "nobody"}, not {expectedPeerId}");
            }
            return new TlsPeerStream(socket, ssl, records, peerId);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct) =>
        await _ssl.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct)
    {
        _records.BeginBatch();
        try
        {
            await _ssl.WriteAsync(buffer, ct).ConfigureAwait(false);
        }
        catch
        {
            _records.AbandonBatch(); // the connection is broken or cancelled mid-write: nothing more goes out
            throw;
        }
        await _records.EndBatchAsync(ct).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _ssl.Dispose();
        _socket.Dispose();
    }
}
