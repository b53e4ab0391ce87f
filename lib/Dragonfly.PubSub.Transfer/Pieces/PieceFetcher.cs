using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// The client side of <see cref="PieceProtocol"/>, shared by all downloads of an agent: keeps idle
/// connections per parent for reuse, owns the pool of piece buffers, and applies
/// <see cref="TransferOptions.DownloadLimit"/> over everything it receives. Bytes are hashed while
/// they arrive, so a piece is verified the moment its last byte is in. With <see cref="PeerTls"/>
/// each connection is TLS 1.3 and the parent's certificate must name the peer id the scheduler
/// gave; pooled connections mean a handshake per connection, not per piece.
/// </summary>
public sealed class PieceFetcher : IAsyncDisposable
{
    internal static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
    internal static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(20);
    private const int MaxIdlePerParent = 8;
    private const int MaxTickets = 4096;

    /// <summary>Idle connections older than this are closed rather than reused (servers drop them after two minutes).</summary>
    internal static readonly TimeSpan MaxIdle = TimeSpan.FromSeconds(60);

    private const int UnlimitedReceiveChunk = 1024 * 1024;
    private const int LimitedReceiveChunk = 128 * 1024;

    private readonly ILogger<PieceFetcher> _logger;
    private readonly TokenBucket _limiter;
    private readonly ArrayPool<byte> _buffers;
    private readonly ConcurrentDictionary<(string Host, int Port, string? PeerId), ConcurrentBag<PeerConnection>> _idle = new();
    private readonly PeerTls? _tls;
    // The broker's ticket per task (issue 11): presented once on each connection that requests the task.
    private readonly ConcurrentDictionary<DigestKey, byte[]> _tickets = new();
    private int _disposed;
    private long _lastSweep = Environment.TickCount64;

    public PieceFetcher(TransferOptions options, ILogger<PieceFetcher> logger)
        : this(options, tls: null, logger, TimeProvider.System)
    {
    }

    /// <param name="tls">How parents authenticate; null = plain TCP (<c>--insecure</c>).</param>
    public PieceFetcher(TransferOptions options, PeerTls? tls, ILogger<PieceFetcher> logger)
        : this(options, tls, logger, TimeProvider.System)
    {
    }

    internal PieceFetcher(TransferOptions options, PeerTls? tls, ILogger<PieceFetcher> logger, TimeProvider time)
    {
        _tls = tls;
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        _limiter = new TokenBucket(options.DownloadLimit, time);
        // Piece buffers come from a pool of their own, sized for the pieces in flight of two
        // downloads at once, so memory stays flat however many pieces pass through.
        _buffers = ArrayPool<byte>.Create(Contracts.PieceLayout.MaxPieceSize, Math.Max(4, options.PiecesInFlight * 2 + 2));
    }

    internal byte[] RentBuffer(int pieceSize) => _buffers.Rent(pieceSize);

    /// <summary>Keeps the newest ticket for a task; connections present it before their next request of it.</summary>
    internal void SetTicket(DigestKey key, byte[] ticket)
    {
        if (ticket.Length > Dragonfly.PubSub.Security.PeerTicket.MaxLength)
        {
            return; // a peer port would refuse it; requests go without and are answered "forbidden"
        }
        if (_tickets.Count >= MaxTickets && !_tickets.ContainsKey(key))
        {
            _tickets.Clear();
        }
        _tickets[key] = ticket;
    }

    internal void ForgetTicket(DigestKey key) => _tickets.TryRemove(key, out _);

    internal void ReturnBuffer(byte[] buffer) => _buffers.Return(buffer);

    /// <summary>The agent-wide download limit, which back-to-source reads take from too.</summary>
    internal TokenBucket Limiter => _limiter;

    /// <summary>
    /// Fetches bytes [offset, offset + destination.Length) of an artifact from one parent into
    /// <paramref name="destination"/> and checks them as they arrive (<paramref name="check"/>: the piece's
    /// digest, or the manifest's chaining values around it).
    /// Never throws for network trouble or bad data: the status says what happened.
    /// </summary>
    /// <param name="taskLimiter">A limit of this download's own (<c>dfget --limit</c>), on top of the agent's; null = none.</param>
    /// <param name="peerId">The parent's peer id from the scheduler: with TLS, its certificate must name it.</param>
    internal async ValueTask<FetchResult> FetchAsync(
        string host, int port, DigestKey content, long offset, Memory<byte> destination,
        PieceCheck check, CancellationToken ct, TokenBucket? taskLimiter = null, string? peerId = null)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return new FetchResult(FetchStatus.Canceled, "the fetcher is disposed");
        }
        if (_tls is not null && (peerId is null || _tls.IsRevoked(peerId)))
        {
            var why = peerId is null ? "no peer id to check its certificate against" : $"peer {peerId} is revoked";
            PeerTlsLog.ParentRefused(_logger, $"{host}:{port}", why);
            return new FetchResult(FetchStatus.Unreachable, why);
        }
        var endpoint = (host, port, _tls is null ? null : peerId);
        for (var attempt = 0; ; attempt++)
        {
            var connection = TakeIdle(endpoint);
            var reused = connection is not null;
            if (connection is null)
            {
                (connection, var error) = await ConnectAsync(host, port, peerId, ct).ConfigureAwait(false);
                if (connection is null)
                {
                    var status = ct.IsCancellationRequested ? FetchStatus.Canceled : FetchStatus.Unreachable;
                    TransferLog.FetchFailed(_logger, $"{host}:{port}", offset, destination.Length, status.ToString(), error);
                    return new FetchResult(status, error);
                }
            }
            _tickets.TryGetValue(content, out var ticket);
            var result = await connection.RequestAsync(content, ticket, offset, destination, check, _limiter, taskLimiter, ct).ConfigureAwait(false);
            if (connection.Healthy && Volatile.Read(ref _disposed) == 0)
            {
                ReturnIdle(endpoint, connection);
            }
            else
            {
                connection.Dispose();
            }
            // An idle connection the parent closed in the meantime fails before any answer: retry on a fresh one.
            if (result.Status == FetchStatus.Unreachable && reused && !connection.GotResponse && attempt == 0)
            {
                continue;
            }
            if (result.Status is not (FetchStatus.Ok or FetchStatus.Busy or FetchStatus.Full))
            {
                TransferLog.FetchFailed(_logger, $"{host}:{port}", offset, destination.Length, result.Status.ToString(), result.Detail);
            }
            return result;
        }
    }

    /// <summary>
    /// Follows a parent's piece map for a task (<see cref="PieceProtocol.MapMarker"/> polls on a connection of its
    /// own) and hands every new map to <paramref name="learned"/>, until the parent holds every piece,
    /// <paramref name="ct"/> is cancelled, or the parent cannot be asked (<see cref="MapWatchRetries"/> broken
    /// connections in a row: gone, or an old agent that closes on the request; <see cref="MapWatchRefusals"/>
    /// refusals: not holding the task, or no ticket for it). A new parent set starts an ended watch again. Never throws.
    /// </summary>
    /// <param name="backoff">The pause after a failed poll (tests shorten it); default <see cref="MapWatchBackoff"/>.</param>
    internal async Task WatchMapAsync(string host, int port, string? peerId, DigestKey content, Action<byte[]> learned, CancellationToken ct, TimeSpan? backoff = null)
    {
        if (_tls is not null && (peerId is null || _tls.IsRevoked(peerId)))
        {
            return;
        }
        PeerConnection? connection = null;
        var version = 0L;
        var broken = 0; // connections that failed or broke, in a row (an old agent closes on the request)
        var refused = 0; // "missing"/"forbidden" in a row: the parent registers the task a moment after it is named
        try
        {
            while (!ct.IsCancellationRequested && Volatile.Read(ref _disposed) == 0 && broken < MapWatchRetries && refused < MapWatchRefusals)
            {
                if (connection is null)
                {
                    (connection, var error) = await ConnectAsync(host, port, peerId, ct).ConfigureAwait(false);
                    if (connection is null)
                    {
                        broken++;
                        await Task.Delay(backoff ?? MapWatchBackoff, ct).ConfigureAwait(false);
                        continue;
                    }
                }
                _tickets.TryGetValue(content, out var ticket);
                var (status, newVersion, map) = await connection.PollMapAsync(content, ticket, version, ct).ConfigureAwait(false);
                if (status == FetchStatus.Ok)
                {
                    broken = refused = 0;
                    version = newVersion;
                    learned(map!);
                    if (version == PieceProtocol.CompleteMapVersion)
                    {
                        return;
                    }
                    continue;
                }
                if (connection.Healthy)
                {
                    refused++;
                }
                else
                {
                    broken++;
                    connection.Dispose();
                    connection = null;
                }
                // Not there yet (the parent registers the task a moment after the scheduler names it), no
                // ticket yet, or a broken connection: ask again a little later.
                await Task.Delay(backoff ?? MapWatchBackoff, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            connection?.Dispose();
        }
    }

    /// <summary>Broken connections in a row after which a watch gives up (the broker's parent sets still say who holds what).</summary>
    internal const int MapWatchRetries = 3;

    /// <summary>Polls answered "missing" or "forbidden" in a row after which a watch gives up (10 s).</summary>
    internal const int MapWatchRefusals = 20;

    internal static readonly TimeSpan MapWatchBackoff = TimeSpan.FromMilliseconds(500);

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            foreach (var bag in _idle.Values)
            {
                while (bag.TryTake(out var connection))
                {
                    connection.Dispose();
                }
            }
        }
        return ValueTask.CompletedTask;
    }

    private PeerConnection? TakeIdle((string, int, string?) endpoint)
    {
        if (!_idle.TryGetValue(endpoint, out var bag))
        {
            return null;
        }
        while (bag.TryTake(out var connection))
        {
            if (!connection.IsStale)
            {
                return connection;
            }
            connection.Dispose();
        }
        return null;
    }

    private void ReturnIdle((string, int, string?) endpoint, PeerConnection connection)
    {
        var bag = _idle.GetOrAdd(endpoint, static _ => []);
        if (bag.Count >= MaxIdlePerParent)
        {
            connection.Dispose();
        }
        else
        {
            connection.MarkIdle();
            bag.Add(connection);
        }
        SweepNowAndThen();
    }

    /// <summary>Closes connections to parents not used for a while, so departed parents do not keep sockets.</summary>
    private void SweepNowAndThen()
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastSweep);
        if (now - last < MaxIdle.TotalMilliseconds || Interlocked.CompareExchange(ref _lastSweep, now, last) != last)
        {
            return;
        }
        foreach (var bag in _idle.Values)
        {
            var keep = new List<PeerConnection>();
            while (bag.TryTake(out var connection))
            {
                if (connection.IsStale)
                {
                    connection.Dispose();
                }
                else
                {
                    keep.Add(connection);
                }
            }
            foreach (var connection in keep)
            {
                bag.Add(connection);
            }
        }
    }

    private async ValueTask<(PeerConnection?, string?)> ConnectAsync(string host, int port, string? peerId, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_tls is null ? ConnectTimeout : ConnectTimeout * 2);
        Socket? socket = null;
        PeerStream? stream = null;
        try
        {
            EndPoint endpoint = IPAddress.TryParse(host, out var ip) ? new IPEndPoint(ip, port) : new DnsEndPoint(host, port);
            socket = ip is not null
                ? new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
                : new Socket(SocketType.Stream, ProtocolType.Tcp);
            PieceProtocol.Configure(socket);
            await socket.ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false);
            stream = _tls is null
                ? new SocketPeerStream(socket)
                : await TlsPeerStream.ConnectAsync(socket, _tls, peerId!, timeout.Token).ConfigureAwait(false);
            await stream.WriteAsync(PieceProtocol.Magic.ToArray(), timeout.Token).ConfigureAwait(false);
            return (new PeerConnection(stream), null);
        }
        catch (OperationCanceledException)
        {
            Close(stream, socket);
            return (null, ct.IsCancellationRequested ? "cancelled" : $"no connection within {ConnectTimeout.TotalSeconds:0} s");
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            Close(stream, socket);
            return (null, e.Message);
        }
        catch (Exception e) when (e is PeerRefusedException or AuthenticationException)
        {
            Close(stream, socket);
            var why = "TLS: " + (e.InnerException?.Message ?? e.Message);
            PeerTlsLog.ParentRefused(_logger, $"{host}:{port}", why);
            return (null, why);
        }
    }

    private static void Close(PeerStream? stream, Socket? socket)
    {
        if (stream is not null)
        {
            stream.Dispose();
        }
        else
        {
            socket?.Dispose();
        }
    }

    /// <summary>One persistent connection to a parent; used by one request at a time.</summary>
    private sealed class PeerConnection(PeerStream stream) : IDisposable
    {
        private readonly byte[] _request = new byte[PieceProtocol.RequestLength];
        private readonly byte[] _header = new byte[PieceProtocol.ResponseHeaderLength];
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly byte[] _digest = new byte[SHA256.HashSizeInBytes];
        private Sha256Chain? _chain; // made on the first chained check
        private const int MaxPresented = 64;

        // The ticket last presented on this connection per task (by reference: a new one is sent again).
        private readonly Dictionary<DigestKey, byte[]> _presented = [];

        /// <summary>False once the stream is out of step or broken: the connection must not be reused.</summary>
        public bool Healthy { get; private set; } = true;

        /// <summary>The last request got at least a response header.</summary>
        public bool GotResponse { get; private set; }

        private long _idleSince = Environment.TickCount64;

        public bool IsStale => Environment.TickCount64 - Volatile.Read(ref _idleSince) > MaxIdle.TotalMilliseconds;

        public void MarkIdle() => Volatile.Write(ref _idleSince, Environment.TickCount64);

        public async ValueTask<FetchResult> RequestAsync(
            DigestKey content, byte[]? ticket, long offset, Memory<byte> destination, PieceCheck check,
            TokenBucket limiter, TokenBucket? taskLimiter, CancellationToken ct)
        {
            var chain = check.Kind == PieceCheckKind.Digest ? null : _chain ??= new Sha256Chain();
            chain?.StartAt(check.StartState.Span, check.Offset);
            GotResponse = false;
            Healthy = false;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            try
            {
                timeout.CancelAfter(StallTimeout);
                PieceProtocol.WriteRequest(_request, content, offset, destination.Length);
                // Nothing else arrives on this connection between the request and its answer.
                var answerStart = stream.LowWater.Received;
                if (ticket is not null && !(_presented.TryGetValue(content, out var presented) && ReferenceEquals(presented, ticket)))
                {
                    // Ticket and request in one write: no extra round trip, no extra TLS record.
                    var frame = new byte[PieceProtocol.RequestLength * 2 + ticket.Length];
                    PieceProtocol.WriteTicketHead(frame, content, ticket.Length);
                    ticket.CopyTo(frame, PieceProtocol.RequestLength);
                    _request.CopyTo(frame, PieceProtocol.RequestLength + ticket.Length);
                    await stream.WriteAsync(frame, timeout.Token).ConfigureAwait(false);
                    if (_presented.Count >= MaxPresented)
                    {
                        _presented.Clear();
                    }
                    _presented[content] = ticket;
                }
                else
                {
                    await stream.WriteAsync(_request, timeout.Token).ConfigureAwait(false);
                }
                if (!await PieceProtocol.ReceiveExactlyAsync(stream, _header, timeout.Token).ConfigureAwait(false))
                {
                    return new FetchResult(FetchStatus.Unreachable, "the parent closed the connection");
                }
                GotResponse = true;
                var (status, length) = PieceProtocol.ReadResponseHeader(_header);
                switch (status)
                {
                    case PieceStatus.Missing:
                        Healthy = true;
                        return new FetchResult(FetchStatus.Missing);
                    case PieceStatus.Busy:
                        Healthy = true;
                        return new FetchResult(FetchStatus.Busy);
                    case PieceStatus.Full:
                        Healthy = true;
                        return new FetchResult(FetchStatus.Full);
                    case PieceStatus.Forbidden:
                        // No valid ticket: as good as missing here; a new parent set brings a fresh ticket.
                        Healthy = true;
                        return new FetchResult(FetchStatus.Missing, "the parent refused: no valid ticket for this task (not a member, or the ticket expired)");
                    case PieceStatus.Ok when length == destination.Length:
                        break;
                    case PieceStatus.Ok:
                        return new FetchResult(FetchStatus.Corrupt, $"the parent announced {length} bytes, {destination.Length} were asked for");
                    default:
                        return new FetchResult(FetchStatus.Missing, $"the parent refused the request (status {(byte)status})");
                }

                // The header said how long the body is: the socket is sure to deliver that much more
                // (with TLS more still), so reads may gather 64 KiB per wake-up until its last bytes.
                stream.LowWater.Promise(answerStart + PieceProtocol.ResponseHeaderLength + length);
                var chunk = limiter.IsUnlimited && taskLimiter is not { IsUnlimited: false } ? UnlimitedReceiveChunk : LimitedReceiveChunk;
                var received = 0;
                while (received < length)
                {
                    var n = await stream.ReadAsync(destination.Slice(received, Math.Min(chunk, length - received)), timeout.Token)
                        .ConfigureAwait(false);
                    if (n == 0)
                    {
                        return new FetchResult(FetchStatus.Unreachable, "the parent closed the connection in the middle of a piece");
                    }
                    // Hash what just arrived while the kernel keeps receiving the rest.
                    if (chain is null)
                    {
                        _hash.AppendData(destination.Span.Slice(received, n));
                    }
                    else
                    {
                        chain.Append(destination.Span.Slice(received, n));
                    }
                    received += n;
                    timeout.CancelAfter(StallTimeout);
                    await limiter.TakeAsync(n, timeout.Token).ConfigureAwait(false);
                    if (taskLimiter is not null)
                    {
                        await taskLimiter.TakeAsync(n, timeout.Token).ConfigureAwait(false);
                    }
                }
                Healthy = true;
                switch (check.Kind)
                {
                    case PieceCheckKind.Digest:
                        _hash.GetHashAndReset(_digest);
                        break;
                    case PieceCheckKind.ChainState:
                        chain!.WriteState(_digest);
                        break;
                    default:
                        chain!.Finish(_digest);
                        break;
                }
                if (_digest.AsSpan().SequenceEqual(check.Expected.Span))
                {
                    return FetchResult.Ok;
                }
                return check.Kind == PieceCheckKind.Digest
                    ? new FetchResult(FetchStatus.Corrupt, "the bytes do not match the piece digest")
                    : new FetchResult(FetchStatus.Corrupt, "the bytes do not match the manifest's SHA-256 chain") { ChainMismatch = true };
            }
            catch (OperationCanceledException)
            {
                return ct.IsCancellationRequested
                    ? new FetchResult(FetchStatus.Canceled)
                    : new FetchResult(FetchStatus.Unreachable, $"the parent sent nothing for {StallTimeout.TotalSeconds:0} s");
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
            {
                return new FetchResult(FetchStatus.Unreachable, e.Message);
            }
            finally
            {
                if (!Healthy)
                {
                    // A half-read hash must not leak into the next request (the connection is dropped anyway).
                    _hash.GetHashAndReset(_digest);
                }
            }
        }

        /// <summary>One <see cref="PieceProtocol.MapMarker"/> poll: the parent's map version and map when the status is ok.</summary>
        public async ValueTask<(FetchStatus Status, long Version, byte[]? Map)> PollMapAsync(DigestKey content, byte[]? ticket, long knownVersion, CancellationToken ct)
        {
            Healthy = false;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            try
            {
                // The parent answers within MapPollWait; twice that without an answer is a dead connection.
                timeout.CancelAfter(PieceProtocol.MapPollWait * 2);
                var frame = ticket is not null && !(_presented.TryGetValue(content, out var presented) && ReferenceEquals(presented, ticket))
                    ? new byte[PieceProtocol.RequestLength * 2 + ticket.Length]
                    : new byte[PieceProtocol.RequestLength];
                var at = 0;
                if (frame.Length > PieceProtocol.RequestLength)
                {
                    PieceProtocol.WriteTicketHead(frame, content, ticket!.Length);
                    ticket.CopyTo(frame, PieceProtocol.RequestLength);
                    at = PieceProtocol.RequestLength + ticket.Length;
                    _presented[content] = ticket;
                }
                PieceProtocol.WriteRequest(frame.AsSpan(at), content, knownVersion, PieceProtocol.MapMarker);
                await stream.WriteAsync(frame, timeout.Token).ConfigureAwait(false);
                if (!await PieceProtocol.ReceiveExactlyAsync(stream, _header, timeout.Token).ConfigureAwait(false))
                {
                    return (FetchStatus.Unreachable, 0, null);
                }
                var (status, length) = PieceProtocol.ReadResponseHeader(_header);
                if (status != PieceStatus.Ok)
                {
                    Healthy = length == 0;
                    return (FetchStatus.Missing, 0, null);
                }
                if (length is < 8 or > 8 + Contracts.PieceLayout.MaxSupportedPieceCount / 8)
                {
                    return (FetchStatus.Corrupt, 0, null);
                }
                var body = new byte[length];
                if (!await PieceProtocol.ReceiveExactlyAsync(stream, body, timeout.Token).ConfigureAwait(false))
                {
                    return (FetchStatus.Unreachable, 0, null);
                }
                Healthy = true;
                return (FetchStatus.Ok, System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(body), body[8..]);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException or EndOfStreamException)
            {
                if (ct.IsCancellationRequested)
                {
                    throw new OperationCanceledException(ct);
                }
                return (FetchStatus.Unreachable, 0, null);
            }
        }

        public void Dispose()
        {
            stream.Dispose();
            _hash.Dispose();
        }
    }
}
