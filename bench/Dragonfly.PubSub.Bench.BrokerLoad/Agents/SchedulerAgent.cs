using System.Diagnostics;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Grpc.Core;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Agents;

/// <summary>
/// One simulated agent's scheduler stream. At most one request that expects a ParentSet (JoinTask or
/// NeedParents) is outstanding; the next ParentSet on the stream answers it, and its latency is the
/// time from just before the write to the read. A ParentSet with nothing outstanding is counted as
/// unsolicited (the broker pushed it because another peer gained pieces or left).
/// </summary>
internal sealed class SchedulerAgent : IAsyncDisposable
{
    private readonly Scheduler.SchedulerClient _client;
    private readonly string _digest;
    private readonly bool _publisher;
    private readonly PieceBitmap _bitmap;
    private readonly Random _random;
    private readonly TaskCompletionSource _welcomed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<double> _joined = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<double> _latenciesMs = [];
    private readonly CancellationTokenSource _stop = new();
    private AsyncDuplexStreamingCall<PeerEvent, SchedulerEvent>? _call;
    private Task _reader = Task.CompletedTask;

    // Stopwatch timestamp of the outstanding request; 0 = none. Set by the writer, cleared by the reader.
    private long _outstanding;
    private volatile bool _recording;
    private int _requests, _skipped, _unsolicited, _piecesReported;
    private long _pieceAvailable;

    public SchedulerAgent(Scheduler.SchedulerClient client, string peerId, int peerPort, string digest, int pieces, bool publisher, double fill, int seed)
    {
        _client = client;
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

    /// <summary>True once Welcome arrived and the join was answered (publishers: sent).</summary>
    public bool Connected { get; private set; }

    /// <summary>The stream failed after it was set up (the broker dropped it).</summary>
    public string? Failure { get; private set; }

    /// <summary>Opens the stream, says Hello, waits for Welcome, joins the task and waits for its ParentSet. Returns the join latency (ms; publishers: null).</summary>
    public async Task<double?> ConnectAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        _call = _client.Connect(cancellationToken: _stop.Token);
        _reader = ReadAsync(_call.ResponseStream);
        await _call.RequestStream.WriteAsync(new PeerEvent
        {
            Hello = new Hello { PeerId = PeerId, Host = "127.0.0.1", PeerPort = PeerPort, UploadSlots = 4 },
        }, limit.Token).ConfigureAwait(false);
        await _welcomed.Task.WaitAsync(limit.Token).ConfigureAwait(false);

        var join = new PeerEvent
        {
            Join = new JoinTask { Digest = _digest, Bitmap = ByteString.CopyFrom(_bitmap.ToBytes()), Publisher = _publisher },
        };
        if (_publisher)
        {
            // A complete member gets no ParentSet for its join.
            await _call.RequestStream.WriteAsync(join, limit.Token).ConfigureAwait(false);
            Connected = true;
            return null;
        }
        Volatile.Write(ref _outstanding, Stopwatch.GetTimestamp());
        await _call.RequestStream.WriteAsync(join, limit.Token).ConfigureAwait(false);
        var latency = await _joined.Task.WaitAsync(limit.Token).ConfigureAwait(false);
        Connected = true;
        return latency;
    }

    /// <summary>
    /// Sends NeedParents every <paramref name="needInterval"/>..2× and reports one new piece every
    /// <paramref name="reportInterval"/>..2× until <paramref name="cancellationToken"/> fires, then waits up
    /// to <paramref name="drain"/> for the last answer.
    /// </summary>
    public async Task<AgentCounters> RunLoadAsync(TimeSpan needInterval, TimeSpan reportInterval, TimeSpan drain, CancellationToken cancellationToken)
    {
        var call = _call ?? throw new InvalidOperationException("ConnectAsync first");
        Interlocked.Exchange(ref _pieceAvailable, 0);
        _unsolicited = 0;
        _recording = true;
        var clock = Stopwatch.StartNew();
        // Random phases so that N agents do not ask in lockstep.
        var nextNeed = Jitter(needInterval) - needInterval;
        var nextReport = reportInterval > TimeSpan.Zero ? Jitter(reportInterval) : TimeSpan.MaxValue;
        try
        {
            while (!cancellationToken.IsCancellationRequested && Failure is null)
            {
                var next = nextNeed < nextReport ? nextNeed : nextReport;
                var wait = next - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }
                if (nextNeed <= nextReport)
                {
                    nextNeed += Jitter(needInterval);
                    if (Interlocked.CompareExchange(ref _outstanding, Stopwatch.GetTimestamp(), 0) != 0)
                    {
                        _skipped++; // the previous answer has not arrived yet
                        continue;
                    }
                    _requests++;
                    await call.RequestStream.WriteAsync(new PeerEvent { NeedParents = new NeedParents { Digest = _digest } }, CancellationToken.None).ConfigureAwait(false);
                }
                else
                {
                    nextReport += Jitter(reportInterval);
                    if (NextMissingPiece() is int index)
                    {
                        _bitmap.Set(index);
                        _piecesReported++;
                        await call.RequestStream.WriteAsync(new PeerEvent { PiecesFinished = new PiecesFinished { Digest = _digest, Indexes = { index } } }, CancellationToken.None).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException or IOException)
        {
            Failure ??= e.Message;
        }

        var waited = Stopwatch.StartNew();
        while (Volatile.Read(ref _outstanding) != 0 && waited.Elapsed < drain && Failure is null)
        {
            await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);
        }
        _recording = false;
        var unanswered = Volatile.Read(ref _outstanding) != 0 ? 1 : 0;
        lock (_latenciesMs)
        {
            return new AgentCounters([.. _latenciesMs], _requests, _skipped, unanswered, _unsolicited, _piecesReported, Interlocked.Read(ref _pieceAvailable));
        }
    }

    private async Task ReadAsync(IAsyncStreamReader<SchedulerEvent> responses)
    {
        try
        {
            while (await responses.MoveNext(_stop.Token).ConfigureAwait(false))
            {
                var message = responses.Current;
                switch (message.EventCase)
                {
                    case SchedulerEvent.EventOneofCase.Welcome:
                        _welcomed.TrySetResult();
                        break;
                    case SchedulerEvent.EventOneofCase.Parents:
                        OnParentSet();
                        break;
                    case SchedulerEvent.EventOneofCase.PieceAvailable:
                        Interlocked.Increment(ref _pieceAvailable);
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

    private void OnParentSet()
    {
        var now = Stopwatch.GetTimestamp();
        var sent = Interlocked.Exchange(ref _outstanding, 0);
        if (sent == 0)
        {
            if (_recording)
            {
                Interlocked.Increment(ref _unsolicited);
            }
            return;
        }
        var ms = Stopwatch.GetElapsedTime(sent, now).TotalMilliseconds;
        if (!_joined.Task.IsCompleted)
        {
            _joined.TrySetResult(ms);
        }
        else if (_recording)
        {
            lock (_latenciesMs)
            {
                _latenciesMs.Add(ms);
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

    private TimeSpan Jitter(TimeSpan interval) => interval * (1 + _random.NextDouble());

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
