using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Security;
using Dragonfly.PubSub.Transfer.Metrics;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// The peer port: answers <see cref="PieceProtocol"/> requests from <see cref="LocalPieces"/>.
/// With <see cref="PeerTls"/> every connection is TLS 1.3 with a fleet client certificate (others
/// are refused and counted in <see cref="ConnectionsRefused"/>), bytes are read from the file in
/// large blocks and encrypted; without it (<c>--insecure</c>) they go from the file to the socket
/// by sendfile. <see cref="TransferOptions.UploadSlots"/>
/// bounds concurrent responses and <see cref="TransferOptions.UploadLimit"/> their total rate.
/// Against abuse by clients of the fleet (issue 11): with <see cref="PeerTls.Tickets"/> a task's ranges go
/// only to a connection that presented the broker's ticket for it (<see cref="ConnectionTickets"/>); open
/// connections are capped in total and per address (<see cref="ConnectionLimits"/>); a response write that
/// waits on the client longer than <see cref="TransferOptions.PeerSendTimeout"/> drops the connection and
/// frees its upload slot (<see cref="SendDeadline"/>).
/// </summary>
public sealed partial class PieceServer : IAsyncDisposable
{
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(2);
    private const int LimitedChunk = 256 * 1024;

    // What the copy path (TLS) writes at a time under an upload limit. It sent 512 KiB blocks (and a 5-byte
    // tail) before SendBlocks, by the shared pool's rounding; 256 KiB and 1 MiB measured no different within
    // the runs' spread (16 x 256 MiB, 2026-12-06), so the size it had stays, now exact.
    private const int LimitedCopyChunk = 512 * 1024;
    private const int CopyChunk = 1024 * 1024;
    private const int SendFileChunk = 4 * 1024 * 1024;

    private readonly LocalPieces _pieces;
    private readonly ILogger<PieceServer> _logger;
    private readonly TokenBucket _limiter;
    private readonly SendGate _uploads;
    private readonly SendBlocks _copyBlocks;
    private readonly SendBlocks _limitedBlocks;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<long, Socket> _connections = new();
    private readonly PeerTls? _tls;
    private long _connectionsRefused;
    private long _connectionsAccepted;
    private long _requestsForbidden;
    private long _sendTimeouts;
    private long _lastCapLog;
    private readonly ConnectionLimits _limits;
    private readonly TimeSpan _sendTimeout;
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
        _copyBlocks = new SendBlocks(CopyChunk, options.UploadSlots);
        _limitedBlocks = new SendBlocks(LimitedCopyChunk, options.UploadSlots);
        _limits = new ConnectionLimits(options.MaxPeerConnections, options.MaxPeerConnectionsPerAddress);
        _sendTimeout = options.PeerSendTimeout;
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

    /// <summary>Connections that passed the handshake and the protocol magic.</summary>
    public long ConnectionsAccepted => Interlocked.Read(ref _connectionsAccepted);

    /// <summary>Range requests refused for want of a valid ticket for their task.</summary>
    public long RequestsForbidden => Interlocked.Read(ref _requestsForbidden);

    /// <summary>Connections dropped because the client stopped reading a response (<see cref="TransferOptions.PeerSendTimeout"/>).</summary>
    public long SendTimeouts => Interlocked.Read(ref _sendTimeouts);

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
            var address = RemoteAddressOf(socket);
            if (!_limits.TryOpen(address, out var refusal))
            {
                RefuseOverCap(socket, refusal!);
                continue;
            }
            var id = Interlocked.Increment(ref _nextConnectionId);
            _connections[id] = socket;
            _ = ServeConnectionAsync(id, socket, address);
        }
    }

    private async Task ServeConnectionAsync(long id, Socket socket, IPAddress address)
    {
        await Task.Yield();
        var reason = "closed by the peer";
        var request = new byte[PieceProtocol.RequestLength];
        var header = new byte[PieceProtocol.ResponseHeaderLength];
        var remote = SafeRemote(socket);
        PeerStream? stream = null;
        string? requester = null;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        using var deadline = new SendDeadline(socket, _sendTimeout);
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
            Interlocked.Increment(ref _connectionsAccepted);
            AgentMetrics.PeerConnectionsAccepted.Inc();
            var tickets = _tls?.Tickets is { } verifier ? new ConnectionTickets(verifier, stream.RemotePeerId ?? "", TimeProvider.System) : null;
            string? ticketProblem = null;
            var forbiddenLogged = false;
            long lastMapAnswer = 0; // Stopwatch timestamp of this connection's last map answer
            long firstMapPoll = 0; // ... and of its first map poll
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
                var (key, offset, length) = PieceProtocol.ReadRequest(request);
                if (length == PieceProtocol.TicketMarker && offset is > 0 and <= PeerTicket.MaxLength)
                {
                    // A ticket for the next requests of this task; with plain TCP (no identity) it is read and ignored.
                    var ticket = new byte[offset];
                    if (!await PieceProtocol.ReceiveExactlyAsync(stream, ticket, timeout.Token).ConfigureAwait(false))
                    {
                        return;
                    }
                    ticketProblem = tickets?.Admit(key, ticket);
                    continue;
                }
                timeout.CancelAfter(Timeout.InfiniteTimeSpan);
                if (length == PieceProtocol.MapMarker)
                {
                    if (firstMapPoll == 0)
                    {
                        firstMapPoll = System.Diagnostics.Stopwatch.GetTimestamp();
                    }
                    var gap = PieceProtocol.MapAnswerGapAfter(System.Diagnostics.Stopwatch.GetElapsedTime(firstMapPoll));
                    var notBefore = lastMapAnswer == 0 ? 0 : lastMapAnswer + (long)(gap.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
                    await AnswerMapPollAsync(stream, deadline, header, tickets, key, offset, notBefore).ConfigureAwait(false);
                    lastMapAnswer = System.Diagnostics.Stopwatch.GetTimestamp();
                    continue;
                }
                if (length <= 0 || length > PieceProtocol.MaxRangeLength || offset < 0)
                {
                    PieceProtocol.WriteResponseHeader(header, PieceStatus.BadRequest, 0);
                    await deadline.WriteAsync(stream, header, _stop.Token).ConfigureAwait(false);
                    reason = $"bad request (offset {offset}, length {length})";
                    return;
                }
                PieceStatus status;
                if (tickets is not null && !tickets.Allows(key))
                {
                    status = PieceStatus.Forbidden;
                    Interlocked.Increment(ref _requestsForbidden);
                    AgentMetrics.PeerRefused.WithLabels("ticket").Inc();
                    if (!forbiddenLogged)
                    {
                        // Once per connection: a client asking for many pieces must not flood the log.
                        forbiddenLogged = true;
                        PeerTlsLog.RequestsForbidden(_logger, stream.RemotePeerId ?? "?", remote ?? "?", KeyText(key), ticketProblem ?? "no ticket for it on this connection");
                    }
                }
                else
                {
                    status = await ServeRangeAsync(stream, deadline, header, key, offset, length, requester ??= RequesterOf(stream, socket)).ConfigureAwait(false);
                }
                if (status != PieceStatus.Ok)
                {
                    if (status != PieceStatus.Forbidden)
                    {
                        if (status is PieceStatus.Busy or PieceStatus.Full)
                        {
                            Interlocked.Increment(ref _requestsBusy);
                            AgentMetrics.PeerRefused.WithLabels(status is PieceStatus.Full ? "full" : "busy").Inc();
                        }
                        else
                        {
                            Interlocked.Increment(ref _requestsMissing);
                        }
                    }
                    PieceProtocol.WriteResponseHeader(header, status, 0);
                    await deadline.WriteAsync(stream, header, _stop.Token).ConfigureAwait(false);
                }
            }
        }
        catch (Exception) when (deadline.Expired)
        {
            // The deadline closed the socket under the write: whatever the write threw, this is why.
            reason = $"send timed out after {_sendTimeout.TotalSeconds:0.#} s";
            Interlocked.Increment(ref _sendTimeouts);
            AgentMetrics.PeerRefused.WithLabels("send_timeout").Inc();
            PeerTlsLog.SendTimedOut(_logger, remote ?? "?", _sendTimeout.TotalSeconds);
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
            _limits.Close(address);
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

    /// <summary>Closes a connection over a cap at once; logged at most every 10 s (a flood must not flood the log too).</summary>
    private void RefuseOverCap(Socket socket, string refusal)
    {
        var remote = SafeRemote(socket) ?? "?";
        socket.Dispose();
        Interlocked.Increment(ref _connectionsRefused);
        AgentMetrics.PeerRefused.WithLabels("connections").Inc();
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastCapLog);
        if (now - last >= 10_000 && Interlocked.CompareExchange(ref _lastCapLog, now, last) == last)
        {
            PeerTlsLog.Refused(_logger, remote, refusal + "; closed at once (logged at most every 10 s)");
        }
    }

    private static IPAddress RemoteAddressOf(Socket socket)
    {
        try
        {
            return socket.RemoteEndPoint is IPEndPoint endpoint
                ? endpoint.Address.IsIPv4MappedToIPv6 ? endpoint.Address.MapToIPv4() : endpoint.Address
                : IPAddress.None;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return IPAddress.None;
        }
    }

    /// <summary>
    /// A child's <see cref="PieceProtocol.MapMarker"/> poll: the task's piece map once it differs from the version
    /// the child holds (or after <see cref="PieceProtocol.MapPollWait"/>). Takes no upload slot: it is a few bytes.
    /// </summary>
    private async ValueTask AnswerMapPollAsync(PeerStream stream, SendDeadline deadline, byte[] header, ConnectionTickets? tickets, DigestKey key, long knownVersion, long notBefore)
    {
        if (tickets is not null && !tickets.Allows(key))
        {
            Interlocked.Increment(ref _requestsForbidden);
            PieceProtocol.WriteResponseHeader(header, PieceStatus.Forbidden, 0);
            await deadline.WriteAsync(stream, header, _stop.Token).ConfigureAwait(false);
            return;
        }
        if (await _pieces.WaitForMapAsync(key, knownVersion, PieceProtocol.MapPollWait, _stop.Token, notBefore).ConfigureAwait(false) is not { } map)
        {
            PieceProtocol.WriteResponseHeader(header, PieceStatus.Missing, 0);
            await deadline.WriteAsync(stream, header, _stop.Token).ConfigureAwait(false);
            return;
        }
        var answer = new byte[PieceProtocol.ResponseHeaderLength + 8 + map.Bytes.Length];
        PieceProtocol.WriteResponseHeader(answer, PieceStatus.Ok, 8 + map.Bytes.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(answer.AsSpan(PieceProtocol.ResponseHeaderLength), map.Version);
        map.Bytes.CopyTo(answer, PieceProtocol.ResponseHeaderLength + 8);
        await deadline.WriteAsync(stream, answer, _stop.Token).ConfigureAwait(false);
    }

    private static string KeyText(in DigestKey key)
    {
        Span<byte> bytes = stackalloc byte[DigestKey.Size];
        key.WriteTo(bytes);
        return "sha256:" + Convert.ToHexStringLower(bytes);
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
