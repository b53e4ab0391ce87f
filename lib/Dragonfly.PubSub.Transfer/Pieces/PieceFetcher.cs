using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Metrics;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// The client side of <see cref="PieceProtocol"/>, shared by all downloads of an agent: keeps one
/// connection per parent for piece requests and sends several requests on it at once (pipelined;
/// another connection only past <see cref="MaxPipelined"/> waiting requests, or for each request to a parent
/// faster than one connection carries: <see cref="DefaultFastParentBytesPerSecond"/>), owns the pool of piece
/// buffers, and applies <see cref="TransferOptions.DownloadLimit"/> over everything it receives. Bytes
/// are hashed while they arrive, so a piece is verified the moment its last byte is in. With
/// <see cref="PeerTls"/> each connection is TLS 1.3 and the parent's certificate must name the peer id
/// the scheduler gave: a handshake per parent, not per piece or per request in flight (issue 10: an
/// 8 x 64 MiB swarm opened ~38 connections per agent with a connection per request in flight, and the
/// handshakes were ~15 % of the agents' CPU).
/// </summary>
public sealed partial class PieceFetcher : IAsyncDisposable
{
    internal static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
    internal static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(20);
    private const int MaxTickets = 4096;

    /// <summary>
    /// Requests waiting on one connection before another connection to the same parent is opened. The picker asks a
    /// parent for three pieces at a time (<see cref="PiecePicker.DefaultParentLimit"/>), so one connection carries them.
    /// </summary>
    internal const int MaxPipelined = 4;

    /// <summary>Connections to one parent at most; past it, requests queue on the least busy one.</summary>
    private const int MaxConnectionsPerParent = 8;

    /// <summary>
    /// A parent whose last <see cref="FastAnswersInARow"/> answers each streamed in faster than this gets a connection per
    /// request in flight, as before pipelining. One TLS connection is carried by one core at each end (decrypting,
    /// hashing), which a parent on loopback or a 10 Gbit/s link outruns: `dfbench pair --size 1GiB` (one parent,
    /// loopback) gave 0.71-0.77 x nginx-to-curl with a connection per request and 0.60-0.65 with the three requests
    /// pipelined on one (2026-12-07, interleaved). At swarm rates (100 Mbit/s to 1 Gbit/s per parent: at most 119 MiB/s)
    /// one connection carries a parent's requests with room to spare, and the handshakes saved are worth more.
    /// </summary>
    internal const double DefaultFastParentBytesPerSecond = 128.0 * 1024 * 1024;

    /// <summary>Fast answers in a row that make a parent fast (one slow answer makes it slow again).</summary>
    internal const int FastAnswersInARow = 4;

    /// <summary>Answers shorter than this are not timed: their time is mostly the round trip, not the stream.</summary>
    internal const int MinTimedAnswer = 128 * 1024;

    /// <summary>Connections unused this long are closed rather than used again (servers drop them after two minutes).</summary>
    internal static readonly TimeSpan MaxIdle = TimeSpan.FromSeconds(60);

    private const int UnlimitedReceiveChunk = 1024 * 1024;
    private const int LimitedReceiveChunk = 128 * 1024;

    private readonly ILogger<PieceFetcher> _logger;
    private readonly TokenBucket _limiter;
    private readonly ArrayPool<byte> _buffers;
    private readonly ConcurrentDictionary<(string Host, int Port, string? PeerId), ParentConnections> _parents = new();
    // Connections made for a pool outlive the request that made them: cancelled only when the fetcher goes.
    private readonly CancellationTokenSource _disposing = new();
    private readonly PeerTls? _tls;
    // The broker's ticket per task (issue 11): presented once on each connection that requests the task.
    private readonly ConcurrentDictionary<DigestKey, byte[]> _tickets = new();
    private int _disposed;
    private long _lastSweep = Environment.TickCount64;
    private long _connectionsOpened;
    private long _requestsWritten;

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

    /// <summary>Connections this fetcher has opened to parents (piece requests and map watches), each with a handshake under TLS.</summary>
    internal long ConnectionsOpened => Interlocked.Read(ref _connectionsOpened);

    /// <summary>Piece requests written to parents so far (on the wire, answered or not).</summary>
    internal long RequestsWritten => Interlocked.Read(ref _requestsWritten);

    /// <summary>See <see cref="DefaultFastParentBytesPerSecond"/>; tests set it to make any parent fast, or none.</summary>
    internal double FastParentBytesPerSecond { get; set; } = DefaultFastParentBytesPerSecond;

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
        var parent = _parents.GetOrAdd((host, port, _tls is null ? null : peerId), static _ => new ParentConnections());
        for (var attempt = 0; ; attempt++)
        {
            var (connection, fresh, error) = await AcquireAsync(parent, host, port, peerId, ct).ConfigureAwait(false);
            if (connection is null)
            {
                var status = ct.IsCancellationRequested ? FetchStatus.Canceled : FetchStatus.Unreachable;
                TransferLog.FetchFailed(_logger, $"{host}:{port}", offset, destination.Length, status.ToString(), error);
                return new FetchResult(status, error);
            }
            _tickets.TryGetValue(content, out var ticket);
            var (result, answered, streamed) = await connection.RequestAsync(content, ticket, offset, destination, check, _limiter, taskLimiter, ct).ConfigureAwait(false);
            if (result.Status == FetchStatus.Ok && destination.Length >= MinTimedAnswer)
            {
                parent.NoteAnswer(destination.Length >= FastParentBytesPerSecond * streamed.TotalSeconds);
            }
            if (!connection.Healthy)
            {
                Drop(parent, connection);
            }
            // A connection the parent closed in the meantime (idle, or broken under requests before this one) fails
            // before answering: retry on another.
            if (result.Status == FetchStatus.Unreachable && !fresh && !answered && attempt == 0 && !ct.IsCancellationRequested)
            {
                continue;
            }
            if (result.Status is not (FetchStatus.Ok or FetchStatus.Busy or FetchStatus.Full))
            {
                TransferLog.FetchFailed(_logger, $"{host}:{port}", offset, destination.Length, result.Status.ToString(), result.Detail);
            }
            SweepNowAndThen();
            return result;
        }
    }

    /// <summary>
    /// A connection to the parent for one more request (reserved on it): the least busy open one while it has room
    /// (<see cref="MaxPipelined"/>; one request each for a fast parent), else a new one; requests that find one being made wait for it rather than make
    /// their own. Fresh = made for this request or the ones waiting with it (a failure there is not worth a retry).
    /// </summary>
    private async ValueTask<(PeerConnection? Connection, bool Fresh, string? Error)> AcquireAsync(
        ParentConnections parent, string host, int port, string? peerId, CancellationToken ct)
    {
        var waited = false;
        while (true)
        {
            Task<(PeerConnection? Connection, string? Error)> connecting;
            TaskCompletionSource<(PeerConnection?, string?)>? making = null;
            lock (parent)
            {
                if (Volatile.Read(ref _disposed) != 0)
                {
                    return (null, true, "the fetcher is disposed");
                }
                PeerConnection? best = null;
                foreach (var open in parent.Open)
                {
                    if (open.Healthy && (best is null || open.Outstanding < best.Outstanding))
                    {
                        best = open;
                    }
                }
                var fast = parent.Fast;
                // A request that finds a connection being made queues on an open one, unless the parent is fast: then
                // it waits for the new one, and makes the next if that is taken by then.
                if (best is not null && (best.Outstanding < (fast ? 1 : MaxPipelined) || parent.Open.Count >= MaxConnectionsPerParent
                    || (parent.Connecting is not null && !fast)))
                {
                    best.Reserve();
                    return (best, waited, null);
                }
                if (parent.Connecting is { } pending)
                {
                    connecting = pending;
                }
                else
                {
                    making = new TaskCompletionSource<(PeerConnection?, string?)>(TaskCreationOptions.RunContinuationsAsynchronously);
                    parent.Connecting = connecting = making.Task;
                }
            }
            if (making is not null)
            {
                // Made under the fetcher's token, not this request's: the requests waiting for it still want it.
                PeerConnection? made = null;
                string? error = "the connection could not be made";
                try
                {
                    (made, error) = await ConnectAsync(host, port, peerId, _disposing.Token).ConfigureAwait(false);
                }
                finally
                {
                    // Whatever happened, the parent is not left "being connected to" (its requests would wait forever).
                    lock (parent)
                    {
                        parent.Connecting = null;
                        if (made is not null && Volatile.Read(ref _disposed) != 0)
                        {
                            made.Dispose(); // the fetcher went while this was being made
                            (made, error) = (null, "the fetcher is disposed");
                        }
                        if (made is not null)
                        {
                            parent.Open.Add(made);
                            made.Reserve();
                        }
                    }
                    making.SetResult((made, error));
                }
                if (made is not null && ct.IsCancellationRequested)
                {
                    made.Release();
                    return (null, true, "cancelled");
                }
                return (made, true, error);
            }
            try
            {
                var (made, error) = await connecting.WaitAsync(ct).ConfigureAwait(false);
                if (made is null)
                {
                    return (null, true, error);
                }
            }
            catch (OperationCanceledException)
            {
                return (null, true, "cancelled");
            }
            waited = true;
        }
    }

    private static void Drop(ParentConnections parent, PeerConnection connection)
    {
        lock (parent)
        {
            parent.Open.Remove(connection);
        }
        connection.Dispose();
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
            _disposing.Cancel();
            foreach (var parent in _parents.Values)
            {
                lock (parent)
                {
                    foreach (var connection in parent.Open)
                    {
                        connection.Dispose();
                    }
                    parent.Open.Clear();
                }
            }
        }
        return ValueTask.CompletedTask;
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
        foreach (var parent in _parents.Values)
        {
            lock (parent)
            {
                parent.Open.RemoveAll(connection =>
                {
                    if (connection.Healthy && !connection.IsStale)
                    {
                        return false;
                    }
                    connection.Dispose();
                    return true;
                });
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
            Interlocked.Increment(ref _connectionsOpened);
            AgentMetrics.PeerConnectionsOpened.Inc();
            return (new PeerConnection(stream, () => Interlocked.Increment(ref _requestsWritten)), null);
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
}
