using System.Diagnostics;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Grpc.Core;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Agents;

/// <summary>
/// One simulated agent's scheduler stream. Requests go out on schedule, whether or not earlier ones
/// were answered (no coordinated omission): each JoinTask and NeedParents carries a request id, the
/// broker echoes it in the ParentSet that answers it, and the latency runs from the moment the request
/// was DUE (not when this process got round to writing it) to the answer. A ParentSet without a request
/// id was pushed unasked and answers nothing.
/// </summary>
internal sealed class SchedulerAgent : IAsyncDisposable
{
    private readonly CallInvoker _scheduler;
    private readonly string _digest;
    private readonly bool _publisher;
    private readonly PieceBitmap _bitmap;
    private readonly Random _random;
    private readonly TaskCompletionSource _welcomed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<double> _joined = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private AsyncDuplexStreamingCall<PeerEvent, SchedulerEventSummary>? _call;
    private Task _reader = Task.CompletedTask;
    private Task _lastWrite = Task.CompletedTask; // the load clock's thread only

    // Request id → Stopwatch timestamp when it was due. Written by the load clock's thread, answered by the reader.
    private readonly Dictionary<ulong, long> _pending = [];
    private readonly List<double> _answeredMs = [];
    private readonly List<double> _sendLagMs = [];
    private ulong _lastRequestId;
    private ulong _joinRequestId;
    private long _timeoutTicks = long.MaxValue;
    private volatile bool _recording;
    private int _requests, _skipped, _late, _unsolicited, _unknown, _piecesReported;
    private long _pieceAvailable;
    private long _pieceAvailableEvents;

    /// <summary>Says in its Hello that it polls its parents' piece maps (dfagent --piece-news peer): the broker relays it no news.</summary>
    public bool ParentPieceMaps { get; init; }

    public SchedulerAgent(CallInvoker scheduler, string peerId, int peerPort, string digest, int pieces, bool publisher, double fill, int seed)
    {
        _scheduler = scheduler;
        PeerId = peerId;
        PeerPort = peerPort;
        _digest = digest;
        _publisher = publisher;
        _random = new Random(seed);
        _bitmap = publisher ? PieceBitmap.Full(pieces) : new PieceBitmap(pieces);
        if (!publisher)
        {
            for (var i = 0; i < pieces; i++)
            {
                if (_random.NextDouble() < fill)
                {
                    _bitmap.Set(i);
                }
            }
        }
    }

    public string PeerId { get; }
    public int PeerPort { get; }
    public bool IsPublisher => _publisher;

    /// <summary>Which of the run's brokers its task is placed on (its one stream goes there).</summary>
    public int BrokerIndex { get; init; }

    /// <summary>True once Welcome arrived and the join was answered (publishers: sent).</summary>
    public bool Connected { get; private set; }

    /// <summary>The stream failed after it was set up (the broker dropped it).</summary>
    public string? Failure { get; private set; }

    /// <summary>Opens the stream, says Hello, waits for Welcome, joins the task and waits for its ParentSet. Returns the join latency (ms; publishers: null).</summary>
    public async Task<double?> ConnectAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        _call = _scheduler.AsyncDuplexStreamingCall(SchedulerEventSummary.Connect, null, new CallOptions(cancellationToken: _stop.Token));
        _reader = ReadAsync(_call.ResponseStream);
        await _call.RequestStream.WriteAsync(new PeerEvent
        {
            Hello = new Hello { PeerId = PeerId, Host = "127.0.0.1", PeerPort = PeerPort, UploadSlots = 4, MergedPieceNews = true, ParentPieceMaps = ParentPieceMaps },
        }, limit.Token).ConfigureAwait(false);
        await _welcomed.Task.WaitAsync(limit.Token).ConfigureAwait(false);

        var join = new JoinTask { Digest = _digest, Bitmap = ByteString.CopyFrom(_bitmap.ToBytes()), Publisher = _publisher };
        if (_publisher)
        {
            // A complete member gets no ParentSet for its join.
            await _call.RequestStream.WriteAsync(new PeerEvent { Join = join }, limit.Token).ConfigureAwait(false);
            Connected = true;
            return null;
        }
        lock (_pending)
        {
            join.RequestId = _joinRequestId = ++_lastRequestId;
            _pending[join.RequestId] = Stopwatch.GetTimestamp();
        }
        await _call.RequestStream.WriteAsync(new PeerEvent { Join = join }, limit.Token).ConfigureAwait(false);
        var latency = await _joined.Task.WaitAsync(limit.Token).ConfigureAwait(false);
        Connected = true;
        return latency;
    }

    /// <summary>Starts counting for the load phase, before the <see cref="LoadClock"/> starts: answers later than <paramref name="timeout"/> count as late.</summary>
    public void BeginLoad(TimeSpan timeout)
    {
        if (_call is null)
        {
            throw new InvalidOperationException("ConnectAsync first");
        }
        Interlocked.Exchange(ref _pieceAvailable, 0);
        Interlocked.Exchange(ref _pieceAvailableEvents, 0);
        Interlocked.Exchange(ref _unsolicited, 0);
        Interlocked.Exchange(ref _timeoutTicks, Ticks(timeout));
        _recording = true;
    }

    /// <summary>Sends a NeedParents that fell due at Stopwatch timestamp <paramref name="due"/> (called by the load clock's thread only).</summary>
    public void SendNeedParents(long due)
    {
        if (Failure is not null)
        {
            _skipped++; // due, but the stream is gone: counted as a timeout
            return;
        }
        ulong id;
        lock (_pending)
        {
            id = ++_lastRequestId;
            _pending[id] = due;
            _sendLagMs.Add(Stopwatch.GetElapsedTime(due).TotalMilliseconds);
        }
        _requests++;
        Send(new PeerEvent { NeedParents = new NeedParents { Digest = _digest, RequestId = id } });
    }

    /// <summary>
    /// Reports up to <paramref name="piecesPerReport"/> new pieces in one PiecesFinished (dfagent gathers a second's
    /// pieces into one report when its children poll its piece map). Called by the load clock's thread only.
    /// </summary>
    public void SendPieceReport(int piecesPerReport)
    {
        if (Failure is not null)
        {
            return;
        }
        var report = new PiecesFinished { Digest = _digest };
        while (report.Indexes.Count < piecesPerReport && NextMissingPiece() is int index)
        {
            _bitmap.Set(index);
            _piecesReported++;
            report.Indexes.Add(index);
        }
        if (report.Indexes.Count > 0)
        {
            Send(new PeerEvent { PiecesFinished = report });
        }
    }

    /// <summary>A NeedParents fell due in the phase but the clock never got to send it: counted as a timeout.</summary>
    public void CountNotSent() => _skipped++;

    /// <summary>
    /// After the load clock stopped: waits up to <paramref name="timeout"/> for the answers still outstanding and
    /// returns the phase's counters. A request whose answer took longer than the timeout, never came, or could
    /// not be sent (the stream had failed) counts as the timeout value.
    /// </summary>
    public async Task<AgentCounters> FinishAsync(TimeSpan timeout)
    {
        // Every request was due before the phase ended: after one timeout each has its answer or is late.
        var waited = Stopwatch.StartNew();
        while (PendingCount() > 0 && waited.Elapsed < timeout && Failure is null)
        {
            await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);
        }
        _recording = false;
        lock (_pending)
        {
            return new AgentCounters([.. _answeredMs], [.. _sendLagMs], _requests, _skipped, _late, _pending.Count,
                Volatile.Read(ref _unsolicited), Volatile.Read(ref _unknown), _piecesReported, Interlocked.Read(ref _pieceAvailable),
                Interlocked.Read(ref _pieceAvailableEvents));
        }
    }

    /// <summary>One write at a time on the stream (gRPC refuses a second while one is in progress): a message due while
    /// the previous one is still being written follows it.</summary>
    private void Send(PeerEvent message)
    {
        var call = _call!;
        _lastWrite = _lastWrite.IsCompleted ? Write(call, message) : WriteAfter(_lastWrite, call, message);
    }

    private async Task WriteAfter(Task previous, AsyncDuplexStreamingCall<PeerEvent, SchedulerEventSummary> call, PeerEvent message)
    {
        await previous.ConfigureAwait(false);
        await Write(call, message).ConfigureAwait(false);
    }

    private async Task Write(AsyncDuplexStreamingCall<PeerEvent, SchedulerEventSummary> call, PeerEvent message)
    {
        try
        {
            await call.RequestStream.WriteAsync(message, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or IOException or OperationCanceledException)
        {
            Failure ??= e.Message;
        }
    }

    private int PendingCount()
    {
        lock (_pending)
        {
            return _pending.Count;
        }
    }

    private async Task ReadAsync(IAsyncStreamReader<SchedulerEventSummary> responses)
    {
        try
        {
            while (await responses.MoveNext(_stop.Token).ConfigureAwait(false))
            {
                var message = responses.Current;
                switch (message.Kind)
                {
                    case SchedulerEvent.EventOneofCase.Welcome:
                        _welcomed.TrySetResult();
                        break;
                    case SchedulerEvent.EventOneofCase.Parents:
                        OnParentSet(message.RequestId);
                        break;
                    case SchedulerEvent.EventOneofCase.PieceAvailable:
                        // News of one parent each, several merged into one event for agents that say they read it.
                        Interlocked.Add(ref _pieceAvailable, message.PieceNews);
                        Interlocked.Increment(ref _pieceAvailableEvents);
                        break;
                }
            }
            Fail("the broker ended the stream");
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException or IOException or InvalidOperationException)
        {
            Fail(_stop.IsCancellationRequested ? "closed" : e.Message);
        }
    }

    private void OnParentSet(ulong requestId)
    {
        var now = Stopwatch.GetTimestamp();
        if (requestId == 0)
        {
            if (_recording)
            {
                Interlocked.Increment(ref _unsolicited);
            }
            return;
        }
        lock (_pending)
        {
            if (!_pending.Remove(requestId, out var due))
            {
                _unknown++; // an id we never sent or answered twice: a broker bug worth seeing
                return;
            }
            var elapsed = now - due;
            var ms = Stopwatch.GetElapsedTime(due, now).TotalMilliseconds;
            if (requestId == _joinRequestId)
            {
                _joined.TrySetResult(ms);
            }
            else if (elapsed > Interlocked.Read(ref _timeoutTicks))
            {
                _late++;
            }
            else
            {
                _answeredMs.Add(ms);
            }
        }
    }

    private void Fail(string reason)
    {
        if (!_stop.IsCancellationRequested)
        {
            Failure ??= reason;
        }
        _welcomed.TrySetException(new IOException($"{PeerId}: {reason}"));
        _joined.TrySetException(new IOException($"{PeerId}: {reason}"));
    }

    private int? NextMissingPiece()
    {
        if (_bitmap.IsComplete)
        {
            return null;
        }
        // Random probes first (cheap while the bitmap is sparse), then a scan.
        for (var attempt = 0; attempt < 16; attempt++)
        {
            var index = _random.Next(_bitmap.PieceCount);
            if (!_bitmap[index])
            {
                return index;
            }
        }
        for (var index = 0; index < _bitmap.PieceCount; index++)
        {
            if (!_bitmap[index])
            {
                return index;
            }
        }
        return null;
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _call?.Dispose();
        try
        {
            await _reader.ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or OperationCanceledException or IOException)
        {
        }
        _stop.Dispose();
    }
}
