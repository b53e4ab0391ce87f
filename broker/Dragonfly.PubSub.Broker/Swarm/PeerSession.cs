using System.Collections.Concurrent;
using System.Threading.Channels;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// One agent's scheduler stream. The gRPC adapter drains <see cref="Outbound"/> into the response stream;
/// only the coordinator's shards write to it (several at once: the channel takes many writers).
/// </summary>
public sealed class PeerSession
{
    /// <summary>
    /// Events queued for one agent at most; an agent that reads slower than its swarm produces them is
    /// disconnected (it reconnects and joins again) rather than buffered without end (issue 11, attack 7).
    /// </summary>
    public const int MaxOutbound = 65_536;

    /// <summary>Events of one agent posted to the swarm and not yet applied, at most; past it the agent is flooding.</summary>
    public const int MaxPending = 16_384;

    private readonly Channel<SchedulerEvent> _outbound =
        Channel.CreateBounded<SchedulerEvent>(new BoundedChannelOptions(MaxOutbound) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly CancellationTokenSource _closed = new();
    // Answers to NeedParents queued and not yet written, by request id: when each request arrived (for
    // dragonfly_broker_schedule_latency_seconds{stage="written"}). An agent has a few requests out at a time.
    private readonly Dictionary<ulong, long> _answersInFlight = [];
    private int _pending;
    private string? _dropped;
    private long _lastSeenUnixMs;
    private const int MaxNotJoinedTold = 1024;
    private readonly ConcurrentDictionary<string, long> _notJoinedTold = new(StringComparer.Ordinal);

    public PeerSession(string peerId, string host, int port, string cluster = "", string zone = "", int uploadSlots = 0,
        bool seed = false, string brokerAddress = "", bool maySource = true, IReadOnlyList<string>? topics = null)
    {
        Topics = topics;
        PeerId = peerId;
        Host = host;
        Port = port;
        Cluster = cluster;
        Zone = zone;
        UploadSlots = uploadSlots;
        MaySource = maySource;
        Seed = seed && maySource;
        BrokerAddress = brokerAddress;
    }

    public string PeerId { get; }
    public string Host { get; }
    public int Port { get; }
    public string Cluster { get; }
    public string Zone { get; }
    public int UploadSlots { get; }

    /// <summary>
    /// Whether this peer may be a URL task's source at all: always with --insecure; in secure mode only with
    /// the seed role in its certificate (the source gets the task's credentials and vouches for its digests).
    /// </summary>
    public bool MaySource { get; }

    /// <summary>A seed peer (Hello.seed, and <see cref="MaySource"/>): the preferred source of URL tasks.</summary>
    public bool Seed { get; }

    /// <summary>
    /// The broker's own address on this stream, as the agent reached it. A parent on the broker's machine
    /// (loopback, e.g. the broker's seed) is handed to remote children under this address.
    /// </summary>
    public string BrokerAddress { get; }

    /// <summary>
    /// The topic filters its certificate grants (empty: every topic), which decide the tasks it may join
    /// (issue 11); null with --insecure (no identity: every join is allowed).
    /// </summary>
    public IReadOnlyList<string>? Topics { get; }

    // --- Fleet dashboard (issue 13): what the agent told in its Hello, and when it last sent anything ---

    /// <summary>The agent's version (Hello.version; empty from older agents).</summary>
    public string Version { get; init; } = "";

    /// <summary>Its --subscribe topic filters (Hello.subscriptions).</summary>
    public IReadOnlyList<string> Subscriptions { get; init; } = [];

    /// <summary>It reads PieceAvailable.more (Hello.merged_piece_news): its piece news may be merged per batch.</summary>
    public bool MergesPieceNews { get; init; }

    /// <summary>
    /// It asks its parents for their piece maps itself (Hello.parent_piece_maps): news of a parent that does so too
    /// would be a message for nothing.
    /// </summary>
    public bool FollowsParentMaps { get; init; }

    /// <summary>When its latest event arrived (Unix ms; 0: none yet).</summary>
    public long LastSeenUnixMs => Volatile.Read(ref _lastSeenUnixMs);

    /// <summary>An event arrived (called on the stream's reader; a plain store, no lock).</summary>
    internal void Touch(long unixMs) => Volatile.Write(ref _lastSeenUnixMs, unixMs);

    public ChannelReader<SchedulerEvent> Outbound => _outbound.Reader;

    /// <summary>Cancelled when the coordinator ends the session (replaced by a newer one, or shutdown).</summary>
    public CancellationToken Closed => _closed.Token;

    public static PeerSession FromHello(Hello hello, string remoteHost, string brokerAddress = "", bool maySource = true, IReadOnlyList<string>? topics = null) => new(
        hello.PeerId,
        string.IsNullOrWhiteSpace(hello.Host) ? remoteHost : hello.Host,
        hello.PeerPort,
        hello.Cluster,
        hello.Zone,
        hello.UploadSlots,
        hello.Seed,
        brokerAddress,
        maySource,
        topics)
    {
        Version = hello.Version,
        Subscriptions = [.. hello.Subscriptions],
        MergesPieceNews = hello.MergedPieceNews,
        FollowsParentMaps = hello.ParentPieceMaps,
    };

    /// <summary>Why the broker ended this session to bound its queues (null: it did not).</summary>
    public string? Dropped => Volatile.Read(ref _dropped);

    /// <summary>Queues <paramref name="message"/>; a full queue ends the session (the reader is too slow).</summary>
    internal bool Send(SchedulerEvent message)
    {
        if (_outbound.Writer.TryWrite(message))
        {
            return true;
        }
        Drop("slow_reader");
        return false;
    }

    /// <summary>
    /// Tells the peer it is not a member of <paramref name="digest"/> (<see cref="NotJoined"/>), at most once per
    /// <see cref="NotJoinedGap"/> per task: a peer without parents asks every few seconds, and each ask must not
    /// start another round of joining. Shards write for their own tasks only, so one task's entry has one writer.
    /// </summary>
    internal void TellNotJoined(string digest)
    {
        var now = Environment.TickCount64;
        if (_notJoinedTold.TryGetValue(digest, out var last) && now - last < (long)NotJoinedGap.TotalMilliseconds)
        {
            return;
        }
        if (_notJoinedTold.Count >= MaxNotJoinedTold)
        {
            // A peer reporting on thousands of tasks it never joined: forget the old ones rather than grow.
            _notJoinedTold.Clear();
        }
        _notJoinedTold[digest] = now;
        Send(new SchedulerEvent { NotJoined = new NotJoined { Digest = digest } });
    }

    /// <summary>The peer joined <paramref name="digest"/>: a later NotJoined for it goes out at once.</summary>
    internal void Joined(string digest) => _notJoinedTold.TryRemove(digest, out _);

    /// <summary>The least time between two <see cref="NotJoined"/> for one task.</summary>
    public static readonly TimeSpan NotJoinedGap = TimeSpan.FromSeconds(1);

    /// <summary>Counts an event posted to the swarm; false (and the session ends) when too many wait already.</summary>
    internal bool BeginEvent()
    {
        if (Interlocked.Increment(ref _pending) <= MaxPending)
        {
            return true;
        }
        Drop("flood");
        return false;
    }

    /// <summary>Most answers whose write is timed at once; more (an agent asking without waiting) go untimed.</summary>
    private const int MaxTimedAnswers = 64;

    /// <summary>The answer to request <paramref name="requestId"/>, which arrived at <paramref name="arrived"/>, is queued.</summary>
    internal void AwaitWritten(ulong requestId, long arrived)
    {
        lock (_answersInFlight)
        {
            if (_answersInFlight.Count < MaxTimedAnswers)
            {
                _answersInFlight[requestId] = arrived;
            }
        }
    }

    /// <summary>
    /// <paramref name="message"/> was handed to the agent's stream (called by the gRPC adapter after each write). Returns
    /// the time since its request arrived when it answers a timed NeedParents (and observes it), else null.
    /// </summary>
    internal TimeSpan? Written(SchedulerEvent message)
    {
        if (message.EventCase != SchedulerEvent.EventOneofCase.Parents || message.Parents.RequestId == 0)
        {
            return null;
        }
        long arrived;
        lock (_answersInFlight)
        {
            if (!_answersInFlight.Remove(message.Parents.RequestId, out arrived))
            {
                return null;
            }
        }
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(arrived);
        Diagnostics.BrokerMetrics.ScheduleWritten.Observe(elapsed.TotalSeconds);
        return elapsed;
    }

    /// <summary>An event was applied (or dropped).</summary>
    internal void EndEvent() => Interlocked.Decrement(ref _pending);

    private void Drop(string reason)
    {
        if (_closed.IsCancellationRequested || Interlocked.CompareExchange(ref _dropped, reason, null) is not null)
        {
            return;
        }
        Diagnostics.BrokerMetrics.SessionsDropped.WithLabels(reason).Inc();
        Close();
    }

    internal void Close()
    {
        _outbound.Writer.TryComplete();
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
