using System.Buffers;
using System.Net.Sockets;
using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Transfer.Pieces;

// One connection to a parent, carrying several piece requests at once (pipelined, as BitTorrent does on
// its one connection per peer): requests go out as they come, the answers come back in the same order,
// and each request reads its own answer when the answers before it have been read.
public sealed partial class PieceFetcher
{
    /// <summary>The connections to one parent for piece requests (map polls keep a connection of their own).</summary>
    private sealed class ParentConnections
    {
        public readonly List<PeerConnection> Open = [];

        /// <summary>The connection being made, which requests wait for instead of making one each.</summary>
        public Task<(PeerConnection? Connection, string? Error)>? Connecting;

        private int _fastInARow;

        /// <summary>True after <see cref="FastAnswersInARow"/> fast answers in a row (<see cref="DefaultFastParentBytesPerSecond"/>).</summary>
        public bool Fast => Volatile.Read(ref _fastInARow) >= FastAnswersInARow;

        public void NoteAnswer(bool fast)
        {
            if (!fast)
            {
                Volatile.Write(ref _fastInARow, 0);
            }
            else if (Volatile.Read(ref _fastInARow) < FastAnswersInARow)
            {
                Interlocked.Increment(ref _fastInARow);
            }
        }
    }

    /// <summary>
    /// One peer-protocol connection. For piece requests it is shared: <see cref="RequestAsync"/> writes a request at once
    /// (one writer at a time) and reads its answer in turn; a request given up before its turn has its answer read and
    /// dropped, so the connection stays in step. Anything that leaves the stream out of step (a broken or cut-off answer,
    /// a request cancelled halfway through its answer) breaks the connection, and the requests behind it fail with
    /// <see cref="FetchStatus.Unreachable"/> and no answer, which the fetcher retries once on another connection.
    /// A map watch uses a connection alone (<see cref="PollMapAsync"/>).
    /// </summary>
    /// <param name="written">Called after each request written (tests count them to know a request is on the wire).</param>
    private sealed class PeerConnection(PeerStream stream, Action? written = null) : IDisposable
    {
        private const int MaxPresented = 64;
        private const int DiscardChunk = 64 * 1024;

        private readonly SemaphoreSlim _writing = new(1, 1);
        private readonly byte[] _request = new byte[PieceProtocol.RequestLength];
        private readonly byte[] _header = new byte[PieceProtocol.ResponseHeaderLength];
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly byte[] _digest = new byte[SHA256.HashSizeInBytes];
        private Sha256Chain? _chain; // made on the first chained check

        // The ticket last presented on this connection per task (by reference: a new one is sent again). Under _writing.
        private readonly Dictionary<DigestKey, byte[]> _presented = [];

        // Completes when the answer to the newest request written has been read (or given up). Under _writing.
        private Task _lastTurn = Task.CompletedTask;
        private int _outstanding;
        private volatile bool _broken;
        private long _idleSince = Environment.TickCount64;

        /// <summary>False once the stream is out of step or broken: no more requests on it.</summary>
        public bool Healthy => !_broken;

        /// <summary>Requests handed this connection and not finished yet.</summary>
        public int Outstanding => Volatile.Read(ref _outstanding);

        /// <summary>Unused for <see cref="MaxIdle"/>: closed rather than used again (servers drop idle connections after two minutes).</summary>
        public bool IsStale => Outstanding == 0 && Environment.TickCount64 - Volatile.Read(ref _idleSince) > MaxIdle.TotalMilliseconds;

        /// <summary>Counts a request that will be made on this connection (under the parent's lock, so others see it at once).</summary>
        public void Reserve() => Interlocked.Increment(ref _outstanding);

        /// <summary>Ends a request's hold on the connection: its answer was read, dropped, or never asked for.</summary>
        public void Release()
        {
            Volatile.Write(ref _idleSince, Environment.TickCount64);
            Interlocked.Decrement(ref _outstanding);
        }

        /// <summary>
        /// One piece request, after <see cref="Reserve"/> (which it releases): the result, whether the parent answered
        /// it at all (a connection that broke before answering is worth one retry on another), and how long the answer
        /// took to read once its turn came (the stream's pace, not the wait behind earlier answers).
        /// </summary>
        public async ValueTask<(FetchResult Result, bool Answered, TimeSpan Streamed)> RequestAsync(
            DigestKey content, byte[]? ticket, long offset, Memory<byte> destination, PieceCheck check,
            TokenBucket limiter, TokenBucket? taskLimiter, CancellationToken ct)
        {
            TaskCompletionSource turn;
            Task previous;
            try
            {
                await _writing.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                Release();
                return (new FetchResult(FetchStatus.Canceled), false, TimeSpan.Zero);
            }
            try
            {
                if (_broken)
                {
                    Release();
                    return (new FetchResult(FetchStatus.Unreachable, "the connection to the parent broke"), false, TimeSpan.Zero);
                }
                // Not the caller's token: a request cut off halfway would leave the stream out of step. A request of
                // 44 bytes waits only if the parent stopped reading altogether.
                using var timeout = new CancellationTokenSource(StallTimeout);
                await stream.WriteAsync(RequestFrame(content, ticket, offset, destination.Length), timeout.Token).ConfigureAwait(false);
                written?.Invoke();
                turn = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                previous = _lastTurn;
                _lastTurn = turn.Task;
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
            {
                _broken = true;
                Release();
                return (new FetchResult(FetchStatus.Unreachable, e is OperationCanceledException ? "the parent took no request for 20 s" : e.Message), false, TimeSpan.Zero);
            }
            finally
            {
                _writing.Release();
            }

            try
            {
                await previous.WaitAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The answer comes all the same, after the ones before it: read and dropped in the background, and the
                // caller's buffer is free at once.
                _ = DiscardAnswerAsync(previous, turn, destination.Length);
                return (new FetchResult(FetchStatus.Canceled), false, TimeSpan.Zero);
            }
            try
            {
                if (_broken)
                {
                    return (new FetchResult(FetchStatus.Unreachable, "the connection to the parent broke"), false, TimeSpan.Zero);
                }
                var turnBegan = System.Diagnostics.Stopwatch.GetTimestamp();
                var (result, answered) = await ReadAnswerAsync(destination, check, limiter, taskLimiter, ct).ConfigureAwait(false);
                return (result, answered, System.Diagnostics.Stopwatch.GetElapsedTime(turnBegan));
            }
            finally
            {
                turn.TrySetResult();
                Release();
            }
        }

        /// <summary>
        /// A request (a range, or a map poll: <paramref name="length"/> = <see cref="PieceProtocol.MapMarker"/>), with the task's
        /// ticket in front when this connection has not presented it yet (one write, one record). Under <c>_writing</c>.
        /// </summary>
        private byte[] RequestFrame(DigestKey content, byte[]? ticket, long offset, int length)
        {
            PieceProtocol.WriteRequest(_request, content, offset, length);
            if (ticket is null || (_presented.TryGetValue(content, out var presented) && ReferenceEquals(presented, ticket)))
            {
                return _request;
            }
            var frame = new byte[PieceProtocol.RequestLength * 2 + ticket.Length];
            PieceProtocol.WriteTicketHead(frame, content, ticket.Length);
            ticket.CopyTo(frame, PieceProtocol.RequestLength);
            _request.CopyTo(frame, PieceProtocol.RequestLength + ticket.Length);
            if (_presented.Count >= MaxPresented)
            {
                _presented.Clear();
            }
            _presented[content] = ticket;
            return frame;
        }

        /// <summary>Reads this request's answer (its turn has come) into <paramref name="destination"/>, checking the bytes as they arrive.</summary>
        private async ValueTask<(FetchResult Result, bool Answered)> ReadAnswerAsync(
            Memory<byte> destination, PieceCheck check, TokenBucket limiter, TokenBucket? taskLimiter, CancellationToken ct)
        {
            var chain = check.Kind == PieceCheckKind.Digest ? null : _chain ??= new Sha256Chain();
            chain?.StartAt(check.StartState.Span, check.Offset);
            // Where this answer starts in the socket's bytes, at the earliest: after what the reader has taken, less what
            // the stream read ahead of it (which may be the start of this answer).
            var answerStart = stream.LowWater.Received - stream.BufferedAhead;
            var answered = false;
            var inStep = false;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            try
            {
                timeout.CancelAfter(StallTimeout);
                if (!await PieceProtocol.ReceiveExactlyAsync(stream, _header, timeout.Token).ConfigureAwait(false))
                {
                    return (new FetchResult(FetchStatus.Unreachable, "the parent closed the connection"), false);
                }
                answered = true;
                var (status, length) = PieceProtocol.ReadResponseHeader(_header);
                switch (status)
                {
                    case PieceStatus.Missing:
                        inStep = true;
                        return (new FetchResult(FetchStatus.Missing), true);
                    case PieceStatus.Busy:
                        inStep = true;
                        return (new FetchResult(FetchStatus.Busy), true);
                    case PieceStatus.Full:
                        inStep = true;
                        return (new FetchResult(FetchStatus.Full), true);
                    case PieceStatus.Forbidden:
                        // No valid ticket: as good as missing here; a new parent set brings a fresh ticket.
                        inStep = true;
                        return (new FetchResult(FetchStatus.Missing, "the parent refused: no valid ticket for this task (not a member, or the ticket expired)"), true);
                    case PieceStatus.Ok when length == destination.Length:
                        break;
                    case PieceStatus.Ok:
                        return (new FetchResult(FetchStatus.Corrupt, $"the parent announced {length} bytes, {destination.Length} were asked for"), true);
                    default:
                        return (new FetchResult(FetchStatus.Missing, $"the parent refused the request (status {(byte)status})"), true);
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
                        return (new FetchResult(FetchStatus.Unreachable, "the parent closed the connection in the middle of a piece"), true);
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
                inStep = true;
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
                    return (FetchResult.Ok, true);
                }
                return (check.Kind == PieceCheckKind.Digest
                    ? new FetchResult(FetchStatus.Corrupt, "the bytes do not match the piece digest")
                    : new FetchResult(FetchStatus.Corrupt, "the bytes do not match the manifest's SHA-256 chain") { ChainMismatch = true }, true);
            }
            catch (OperationCanceledException)
            {
                return (ct.IsCancellationRequested
                    ? new FetchResult(FetchStatus.Canceled)
                    : new FetchResult(FetchStatus.Unreachable, $"the parent sent nothing for {StallTimeout.TotalSeconds:0} s"), answered);
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
            {
                return (new FetchResult(FetchStatus.Unreachable, e.Message), answered);
            }
            finally
            {
                if (!inStep)
                {
                    _broken = true;
                    try
                    {
                        // A half-read hash must not leak into a later request (the connection is dropped anyway).
                        _hash.GetHashAndReset(_digest);
                    }
                    catch (ObjectDisposedException)
                    {
                        // dropped already
                    }
                }
            }
        }

        /// <summary>Reads and drops the answer to a request given up before its turn, then passes the turn on.</summary>
        private async Task DiscardAnswerAsync(Task previous, TaskCompletionSource turn, int requested)
        {
            byte[]? scratch = null;
            try
            {
                await previous.ConfigureAwait(false);
                if (_broken)
                {
                    return;
                }
                using var timeout = new CancellationTokenSource(StallTimeout);
                if (!await PieceProtocol.ReceiveExactlyAsync(stream, _header, timeout.Token).ConfigureAwait(false))
                {
                    _broken = true;
                    return;
                }
                var (status, length) = PieceProtocol.ReadResponseHeader(_header);
                if (status != PieceStatus.Ok)
                {
                    _broken |= length != 0;
                    return;
                }
                if (length != requested)
                {
                    _broken = true;
                    return;
                }
                scratch = ArrayPool<byte>.Shared.Rent(DiscardChunk);
                while (length > 0)
                {
                    var n = await stream.ReadAsync(scratch.AsMemory(0, Math.Min(scratch.Length, length)), timeout.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        _broken = true;
                        return;
                    }
                    length -= n;
                    timeout.CancelAfter(StallTimeout);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
            {
                _broken = true;
            }
            finally
            {
                if (scratch is not null)
                {
                    ArrayPool<byte>.Shared.Return(scratch);
                }
                turn.TrySetResult();
                Release();
            }
        }

        /// <summary>One <see cref="PieceProtocol.MapMarker"/> poll on a connection used for nothing else: the parent's map version and map when the status is ok.</summary>
        public async ValueTask<(FetchStatus Status, long Version, byte[]? Map)> PollMapAsync(DigestKey content, byte[]? ticket, long knownVersion, CancellationToken ct)
        {
            var inStep = false;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            try
            {
                // The parent answers within MapPollWait; twice that without an answer is a dead connection.
                timeout.CancelAfter(PieceProtocol.MapPollWait * 2);
                var frame = RequestFrame(content, ticket, knownVersion, PieceProtocol.MapMarker);
                await stream.WriteAsync(frame, timeout.Token).ConfigureAwait(false);
                if (!await PieceProtocol.ReceiveExactlyAsync(stream, _header, timeout.Token).ConfigureAwait(false))
                {
                    return (FetchStatus.Unreachable, 0, null);
                }
                var (status, length) = PieceProtocol.ReadResponseHeader(_header);
                if (status != PieceStatus.Ok)
                {
                    inStep = length == 0;
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
                inStep = true;
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
            finally
            {
                _broken |= !inStep;
            }
        }

        public void Dispose()
        {
            _broken = true;
            stream.Dispose();
            _hash.Dispose();
        }
    }
}
