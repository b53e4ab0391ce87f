using System.Net.Security;
using System.Net.Sockets;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// The TLS 1.3 peer connection: an authenticated <see cref="SslStream"/> over the socket. Reads
/// fill the caller's buffer (many records per call) so the per-read costs (hashing, rate limits,
/// timers) are paid per block, not per 16 KiB record; below it, <see cref="TlsRecordStream"/>
/// receives ahead and sends the records of one write together (fewer system calls per block).
/// When both ends offer it (ALPN <see cref="BulkKeys.Protocol"/>), the handshake is followed by a
/// key exchange and the connection continues as a <see cref="BulkPeerStream"/>; a peer that does
/// not offer it (an older agent, or <see cref="PeerTls.BulkChannel"/> off) stays here.
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

    /// <summary>
    /// The read-ahead, plus what SslStream may keep decrypted from a record its reader took only part of (a TLS
    /// record carries at most 16 KiB of plaintext; its overhead makes the bound generous).
    /// </summary>
    public override int BufferedAhead => _records.Buffered + MaxRecordPlaintext;

    private const int MaxRecordPlaintext = 16 * 1024;

    public string NegotiatedCipher => _ssl.NegotiatedCipherSuite.ToString();

    public override string? RemoteAddress => AddressOf(_socket);

    /// <summary>Server side: TLS handshake with a required client certificate (checked by <paramref name="tls"/>).</summary>
    /// <exception cref="PeerRefusedException">The client is not a member of the fleet, or is revoked.</exception>
    public static async ValueTask<PeerStream> AcceptAsync(Socket socket, PeerTls tls, CancellationToken ct)
    {
        var records = RecordsOf(socket);
        var ssl = new SslStream(records, leaveInnerStreamOpen: false);
        try
        {
            var options = tls.ServerOptions();
            options.ApplicationProtocols = Protocols(tls);
            await ssl.AuthenticateAsServerAsync(options, ct).ConfigureAwait(false);
            var peerId = PeerTls.PeerIdOf(ssl.RemoteCertificate)
                ?? throw new PeerRefusedException("the client sent no certificate");
            if (tls.IsRevoked(peerId))
            {
                throw new PeerRefusedException($"peer {peerId} is revoked");
            }
            return await ContinueAsync(socket, ssl, records, peerId, isClient: false, ct).ConfigureAwait(false);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Client side: TLS handshake; the server's certificate must name <paramref name="expectedPeerId"/>.</summary>
    /// <exception cref="PeerRefusedException">The parent is not who the scheduler said, or is revoked.</exception>
    public static async ValueTask<PeerStream> ConnectAsync(Socket socket, PeerTls tls, string expectedPeerId, CancellationToken ct)
    {
        var records = RecordsOf(socket);
        var ssl = new SslStream(records, leaveInnerStreamOpen: false);
        try
        {
            var options = tls.ClientOptions(expectedPeerId);
            options.ApplicationProtocols = Protocols(tls);
            await ssl.AuthenticateAsClientAsync(options, ct).ConfigureAwait(false);
            var peerId = PeerTls.PeerIdOf(ssl.RemoteCertificate);
            if (!string.Equals(peerId, expectedPeerId, StringComparison.Ordinal))
            {
                throw new PeerRefusedException($"the parent's certificate names {peerId ?? "nobody"}, not {expectedPeerId}");
            }
            return await ContinueAsync(socket, ssl, records, peerId, isClient: true, ct).ConfigureAwait(false);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>What the handshake agreed: the bulk channel (after its key exchange), or TLS records for the whole connection.</summary>
    private static async ValueTask<PeerStream> ContinueAsync(Socket socket, SslStream ssl, TlsRecordStream records, string? peerId, bool isClient, CancellationToken ct)
    {
        if (ssl.NegotiatedApplicationProtocol != BulkKeys.Protocol || BulkKeys.AlgorithmOf(ssl.NegotiatedCipherSuite) is not { } algorithm)
        {
            records.OneRecordPerRead = false; // TLS records throughout: SslStream may take many per read
            return new TlsPeerStream(socket, ssl, records, peerId);
        }
        var keys = await BulkKeys.ExchangeAsync(ssl, isClient, algorithm, ct).ConfigureAwait(false);
        return new BulkPeerStream(socket, records.LowWater, keys, ssl, peerId, records.TakeReadAhead());
    }

    /// <summary>The socket's stream for SslStream: one record per read until the handshake says what follows it.</summary>
    private static TlsRecordStream RecordsOf(Socket socket) =>
        new(new NetworkStream(socket, ownsSocket: false), new ReceiveLowWater(socket)) { OneRecordPerRead = true };

    /// <summary>The ALPN names offered: the bulk channel first when it is on, and plain TLS always (see <see cref="BulkKeys.TlsOnly"/>).</summary>
    private static List<SslApplicationProtocol> Protocols(PeerTls tls) =>
        tls.BulkChannel && BulkKeys.Available ? [BulkKeys.Protocol, BulkKeys.TlsOnly] : [BulkKeys.TlsOnly];

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
