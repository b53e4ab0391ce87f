using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// The peer port: answers <see cref="PieceProtocol"/> requests from <see cref="LocalPieces"/>.
/// With <see cref="PeerTls"/> every connection is TLS 1.3 with a fleet client certificate (others
/// are refused and counted in <see cref="ConnectionsRefused"/>), bytes are read from the file in
/// large blocks and encrypted; without it (<c>--insecure</c>) they go from the file to the socket
/// by sendfile. <see cref="TransferOptions.UploadSlots"/>
/// bounds concurrent responses and <see cref="TransferOptions.UploadLimit"/> their total rate.
/// </summary>
public sealed class PieceServer : IAsyncDisposable
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(2);
    private const int LimitedChunk = 256 * 1024;
    private const int CopyChunk = 1024 * 1024;

    private readonly LocalPieces _pieces;
    private readonly ILogger<PieceServer> _logger;
    private readonly TokenBucket _limiter;
    private readonly SendGate _uploads;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<long, Socket> _connections = new();
    private readonly PeerTls? _tls;
    private long _connectionsRefused;
    private Socket? _listener;
    private Task? _acceptLoop;
    private long _nextConnectionId;
    private long _requestsServed;
    private long _requestsMissing;
    private long _requestsBusy;
    private readonly SeedSends _seedSends = new(TimeProvider.System);
    private SendGate _seedUploads;
    private int _disposed;

    public PieceServer(LocalPieces pieces, TransferOptions options, ILogger<PieceServer> logger)
        : this(pieces, options, tls: null, logger)
    {
    }

    /// <param name="tls">How peers authenticate; null = plain TCP (<c>--insecure</c>).</param>
    public PieceServer(LocalPieces pieces, TransferOptions options, PeerTls? tls, ILogger<PieceServer> logger)
    {
        _tls = tls;
        ArgumentNullException.ThrowIfNull(pieces);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.UploadSlots, 1);
        _pieces = pieces;
        _logger = logger;
        _limiter = new TokenBucket(options.UploadLimit, TimeProvider.System);
        _uploads = new SendGate(options.UploadSlots);
        _seedUploads = new SendGate(Math.Min(options.UploadSlots, DefaultSeedSlots));
    }

    /// <summary>
    /// Complete artifacts are sent this many at a time (within <see cref="TransferOptions.UploadSlots"/>):
    /// a seed that sends a few pieces at full speed gets each into the swarm sooner than one that
    /// trickles many at once, and the swarm spreads them while it sends the next.
    /// </summary>
    public const int DefaultSeedSlots = 4;

    internal int SeedSlots
    {
        get => _seedUploads.Slots;
        set => _seedUploads = new SendGate(value);
    }

    /// <summary>The bound port once started, otherwise 0.</summary>
    public int Port { get; private set; }

    /// <summary>Ranges answered with bytes since start.</summary>
    public long RequestsServed => Interlocked.Read(ref _requestsServed);

    /// <summary>Requests answered "missing".</summary>
    public long RequestsMissing => Interlocked.Read(ref _requestsMissing);

    /// <summary>Requests answered "busy" (a seed was sending that range to another peer) or "full" (no slot, queue full).</summary>
    public long RequestsBusy => Interlocked.Read(ref _requestsBusy);

    /// <summary>Connections refused for who was on the other side: no TLS, no or a foreign certificate, a revoked peer.</summary>
    public long ConnectionsRefused => Interlocked.Read(ref _connectionsRefused);

    /// <summary>True when the port speaks TLS.</summary>
    public bool IsTls => _tls is not null;

    /// <summary>Off = read into pooled buffers and send (the path without sendfile; kept to compare).</summary>
    internal bool UseSendFile { get; set; } = true;

    /// <summary>
    /// Binds and starts accepting peers; returns the bound port (pass 0 to let the system pick).
    /// Throws <see cref="UserFacingException"/> when the address cannot be bound.
    /// </summary>
    public Task<int> StartAsync(IPAddress address, int port, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(address);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_listener is not null)
        {
            throw new InvalidOperationException("the piece server is already started");
        }
        ct.ThrowIfCancellationRequested();
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Equals(IPAddress.IPv6Any))
            {
                listener.DualMode = true;
            }
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(address, port));
            listener.Listen(512);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new UserFacingException(
                $"cannot listen for peers on {address}:{port} ({e.Message}); choose another --peer-port or --listen address", inner: e);
        }
        _listener = listener;
        Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        TransferLog.ServerListening(_logger, listener.LocalEndPoint!.ToString()!);
        _acceptLoop = AcceptLoopAsync(listener);
        return Task.FromResult(Port);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        foreach (var socket in _connections.Values)
        {
            socket.Dispose();
        }
        // Handlers end promptly once their sockets are closed; do not wait forever on a stuck one.
        var deadline = Environment.TickCount64 + 5000;
        while (!_connections.IsEmpty && Environment.TickCount64 < deadline)
        {
            await Task.Delay(10).ConfigureAwait(false);
        }
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                TransferLog.ServerAcceptFailed(_logger, e);
                await Task.Delay(100).ConfigureAwait(false);
                continue;
            }
            var id = Interlocked.Increment(ref _nextConnectionId);
            _connections[id] = socket;
            _ = ServeConnectionAsync(id, socket);
        }
    }

    private async Task ServeConnectionAsync(long id, Socket socket)
    {
        await Task.Yield();
        var reason = "closed by the peer";
        var request = new byte[PieceProtocol.RequestLength];
        var header = new byte[PieceProtocol.ResponseHeaderLength];
        var remote = SafeRemote(socket);
        PeerStream? stream = null;
        string? requester = null;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        try
        {
            PieceProtocol.Configure(socket);
            timeout.CancelAfter(HandshakeTimeout);
            stream = await OpenAsync(socket, remote, timeout.Token).ConfigureAwait(false);
            if (stream is null)
            {
                reason = "refused";
                return;
            }
            if (!await PieceProtocol.ReceiveExactlyAsync(stream, request.AsMemory(0, PieceProtocol.MagicLength), timeout.Token).ConfigureAwait(false)
                || !request.AsSpan(0, PieceProtocol.MagicLength).SequenceEqual(PieceProtocol.Magic))
            {
                reason = "no or wrong protocol magic";
                return;
            }
            while (true)
            {
                timeout.CancelAfter(IdleTimeout);
                if (!await PieceProtocol.ReceiveExactlyAsync(stream, request, timeout.Token).ConfigureAwait(false))
                {
                    return;
                }
                if (stream.RemotePeerId is { } peerId && _tls!.IsRevoked(peerId))
                {
                    // Revoked while connected: refused at its next request, as at a new handshake.
                    Refuse(remote, $"peer {peerId} was revoked");
                    reason = "revoked";
                    return;
                }
                timeout.CancelAfter(Timeout.InfiniteTimeSpan);
                var (key, offset, length) = PieceProtocol.ReadRequest(request);
                if (length <= 0 || length > PieceProtocol.MaxRangeLength || offset < 0)
                {
                    PieceProtocol.WriteResponseHeader(header, PieceStatus.BadRequest, 0);
                    await stream.WriteAsync(header, _stop.Token).ConfigureAwait(false);
                    reason = $"bad request (offset {offset}, length {length})";
                    return;
                }
                var status = await ServeRangeAsync(stream, header, key, offset, length, requester ??= RequesterOf(stream, socket)).ConfigureAwait(false);
                if (status != PieceStatus.Ok)
                {
                    Interlocked.Increment(ref status is PieceStatus.Busy or PieceStatus.Full ? ref _requestsBusy : ref _requestsMissing);
                    PieceProtocol.WriteResponseHeader(header, status, 0);
                    await stream.WriteAsync(header, _stop.Token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
            reason = _stop.IsCancellationRequested ? "server stopping" : "idle";
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException or UnauthorizedAccessException)
        {
            reason = e.Message;
        }
        catch (Exception e)
        {
            // A bug, not a peer problem: say so loudly, but one connection must not take the server down.
            reason = "failed";
            TransferLog.ServerConnectionFailed(_logger, e);
        }
        finally
        {
            _connections.TryRemove(id, out _);
            TransferLog.ServerConnectionEnded(_logger, remote, reason);
            if (stream is not null)
            {
                stream.Dispose();
            }
            else
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>
    /// Sends the range (<see cref="PieceStatus.Ok"/>), or sends nothing and says why: this agent
    /// does not hold all of it, (complete artifacts) it is already sending it to another peer, or
    /// its upload slots and the queue before them are full.
    /// </summary>
    private async ValueTask<PieceStatus> ServeRangeAsync(PeerStream stream, byte[] header, DigestKey key, long offset, int length, string requester)
    {
        if (!_pieces.TryResolve(key, offset, length, out _, out var complete))
        {
            return PieceStatus.Missing;
        }
        if (complete && !_seedSends.TryBegin(key, offset))
        {
            return PieceStatus.Busy;
        }
        if (complete && !_pieces.TryClaimFirstRound(key, offset, requester))
        {
            _seedSends.End(key, offset, sent: false);
            return PieceStatus.Busy;
        }
        var seedGate = complete ? _seedUploads : null;
        var sent = false;
        try
        {
            // Past a short queue the answer is "busy": the requester does better elsewhere than waiting here.
            if (seedGate is not null && !await seedGate.TryEnterAsync(_stop.Token).ConfigureAwait(false))
            {
                return PieceStatus.Full;
            }
            try
            {
                if (!await _uploads.TryEnterAsync(_stop.Token).ConfigureAwait(false))
                {
                    return PieceStatus.Full;
                }
                try
                {
                    using var file = OpenResolved(key, offset, length);
                    if (file is null || RandomAccess.GetLength(file) < offset + length)
                    {
                        return PieceStatus.Missing;
                    }
                    PieceProtocol.WriteResponseHeader(header, PieceStatus.Ok, length);
                    if (UseSendFile && stream is SocketPeerStream plain)
                    {
                        await SendFileAsync(plain, header, file, offset, length).ConfigureAwait(false);
                    }
                    else
                    {
                        await CopyAsync(stream, header, file, offset, length).ConfigureAwait(false);
                    }
                    Interlocked.Increment(ref _requestsServed);
                    sent = true;
                    return PieceStatus.Ok;
                }
                finally
                {
                    _uploads.Release();
                }
            }
            finally
            {
                seedGate?.Release();
            }
        }
        finally
        {
            if (complete)
            {
                _seedSends.End(key, offset, sent);
                if (!sent)
                {
                    _pieces.ReleaseFirstRound(key, offset, requester);
                }
            }
        }
    }

    /// <summary>Opens the file behind a range; a download may have just been renamed into the store, so look twice.</summary>
    private SafeFileHandle? OpenResolved(DigestKey key, long offset, int length)
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            if (!_pieces.TryResolve(key, offset, length, out var path))
            {
                return null;
            }
            try
            {
                return ContentStore.OpenRead(path);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
            }
        }
        return null;
    }

    private async ValueTask SendFileAsync(SocketPeerStream socket, byte[] header, SafeFileHandle file, long offset, int length)
    {
        // The stream takes over the handle (disposing both is harmless); SendPacketsElement needs a stream.
        using var stream = new FileStream(file, FileAccess.Read, bufferSize: 0, isAsync: true);
        var headerLength = header.Length;
        var sent = 0;
        while (sent < length)
        {
            var chunk = _limiter.IsUnlimited ? length - sent : Math.Min(LimitedChunk, length - sent);
            await _limiter.TakeAsync(chunk, _stop.Token).ConfigureAwait(false);
            await socket.SendFileAsync(header, headerLength, stream, offset + sent, chunk).ConfigureAwait(false);
            headerLength = 0;
            sent += chunk;
            AgentMetrics.UploadBytes.Inc(chunk);
        }
    }

    /// <summary>
    /// Reads the range into a pooled block and writes it (TLS, or plain without sendfile). The
    /// header rides in the first block so it does not cost a TLS record of its own.
    /// </summary>
    private async ValueTask CopyAsync(PeerStream stream, byte[] header, SafeFileHandle file, long offset, int length)
    {
        var chunkSize = _limiter.IsUnlimited ? CopyChunk : LimitedChunk;
        var buffer = ArrayPool<byte>.Shared.Rent(header.Length + Math.Min(chunkSize, length));
        try
        {
            header.CopyTo(buffer, 0);
            var headerLength = header.Length;
            var sent = 0;
            while (sent < length)
            {
                var want = Math.Min(buffer.Length - headerLength, length - sent);
                var read = RandomAccess.Read(file, buffer.AsSpan(headerLength, want), offset + sent);
                if (read <= 0)
                {
                    throw new IOException("the file ended before the requested range");
                }
                await _limiter.TakeAsync(read, _stop.Token).ConfigureAwait(false);
                await stream.WriteAsync(buffer.AsMemory(0, headerLength + read), _stop.Token).ConfigureAwait(false);
                headerLength = 0;
                sent += read;
                AgentMetrics.UploadBytes.Inc(read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The connection as a peer stream: plain, or TLS once the client proved it is a fleet member; null = refused.</summary>
    private async ValueTask<PeerStream?> OpenAsync(Socket socket, string? remote, CancellationToken ct)
    {
        if (_tls is null)
        {
            return new SocketPeerStream(socket);
        }
        try
        {
            return await TlsPeerStream.AcceptAsync(socket, _tls, ct).ConfigureAwait(false);
        }
        catch (PeerRefusedException e)
        {
            Refuse(remote, e.Message);
        }
        catch (AuthenticationException e)
        {
            Refuse(remote, "TLS handshake failed: " + (e.InnerException?.Message ?? e.Message));
        }
        catch (Exception e) when (e is IOException or SocketException && !_stop.IsCancellationRequested)
        {
            // A plaintext client usually ends here: its bytes are not a TLS ClientHello.
            Refuse(remote, "TLS handshake failed: " + e.Message);
        }
        return null;
    }

    private void Refuse(string? remote, string reason)
    {
        Interlocked.Increment(ref _connectionsRefused);
        PeerTlsLog.Refused(_logger, remote ?? "?", reason);
    }

    /// <summary>Who asks, for a first copy's first round: the certificate's peer id, else the address (a retry may come on a new connection).</summary>
    private static string RequesterOf(PeerStream stream, Socket socket)
    {
        if (stream.RemotePeerId is { } peerId)
        {
            return peerId;
        }
        try
        {
            return (socket.RemoteEndPoint as IPEndPoint)?.Address.ToString() ?? "";
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return "";
        }
    }

    private static string? SafeRemote(Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint?.ToString();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }
}
