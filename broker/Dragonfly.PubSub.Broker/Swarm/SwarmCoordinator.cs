using System.Diagnostics;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Contracts.Scheduler;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// The front of the swarm state (who is connected, who holds which pieces, who is whose parent, which
/// peer fetches each URL task from its origin). Everyone else posts commands; the state is split by task
/// over <see cref="SwarmShard"/>s, each a single reader that applies its commands in order, so there are
/// no locks around it and 5,000 agents do not queue behind one thread. A task's events always go to the
/// shard its id hashes to; peer-level commands (connect, disconnect, tick, shutdown) go to every shard;
/// a snapshot is gathered from all of them.
/// </summary>
public sealed class SwarmCoordinator : BackgroundService
{
    private readonly SwarmShard[] _shards;
    private readonly UrlTaskKeys _keys = new();
    private readonly SourceOptions _sources;
    private readonly TimeProvider _time;
    private readonly ILogger<SwarmCoordinator> _logger;

    /// <param name="findManifest">The catalogue: stored manifests by digest.</param>
    /// <param name="sources">How URL tasks get their sources (default: no own seed).</param>
    /// <param name="storeSourced">Persists the complete manifest of a URL task once its source finished.</param>
    /// <param name="news">Where URL task phases are reported (preheat jobs follow their blobs there).</param>
    /// <param name="shards">Single-reader loops the tasks are spread over (1: one loop, as before sharding).</param>
    /// <param name="tickets">Signs the members' peer tickets (secure mode); null = none (--insecure).</param>
    public SwarmCoordinator(
        string brokerId,
        Func<string, Manifest?> findManifest,
        ParentSelectionPolicy policy,
        TimeProvider time,
        ILogger<SwarmCoordinator> logger,
        SourceOptions? sources = null,
        Action<Manifest>? storeSourced = null,
        UrlTaskNews? news = null,
        int shards = 1,
        Security.PeerTicketIssuer? tickets = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        BrokerId = brokerId;
        _sources = sources ?? new SourceOptions();
        _time = time;
        _logger = logger;
        var load = Load = new PeerLoad();
        Activity = new Dashboard.SwarmActivity(time);
        Fleet = new Dashboard.FleetRegistry(time, Activity.Failures);
        var sampleSize = CandidateSampler.SizeFor(policy.MaxParents);
        _shards = new SwarmShard[shards];
        for (var i = 0; i < shards; i++)
        {
            // Each shard draws its own candidates: Random is not thread-safe.
            var sampler = new CandidateSampler(new Random(HashCode.Combine(brokerId, i)), sampleSize);
            _shards[i] = new SwarmShard(i, policy, sampler, load, _keys, findManifest, storeSourced, news, _sources, time, logger, tickets)
            {
                Activity = Activity,
                Fleet = i == 0 ? Fleet : null,
            };
        }
    }

    /// <summary>One shard per core: each loop is single-threaded, so more would only contend.</summary>
    public static int DefaultShards => Math.Max(1, Environment.ProcessorCount);

    public string BrokerId { get; }

    /// <summary>What each peer carries over all shards (tests read its bounds).</summary>
    internal PeerLoad Load { get; }

    /// <summary>What the swarm did as the agents report it (fleet dashboard, issue 13).</summary>
    internal Dashboard.SwarmActivity Activity { get; }

    /// <summary>The agents seen since the start (fleet dashboard).</summary>
    internal Dashboard.FleetRegistry Fleet { get; }

    /// <summary>Single-reader loops the tasks are spread over.</summary>
    public int ShardCount => _shards.Length;

    /// <summary>True while the command loops run.</summary>
    public bool IsRunning { get; private set; }

    /// <summary>Registers a session (after its Welcome was queued); replaces an older one with the same peer id.</summary>
    public void Connect(PeerSession session) => Post(new SwarmCommand.Connect(session));

    /// <summary>The session's stream ended: the peer leaves all its tasks.</summary>
    public void Disconnect(PeerSession session) => Post(new SwarmCommand.Disconnect(session));

    /// <summary>Posts an agent's event; an agent with too many events not yet applied is disconnected instead (it floods).</summary>
    public void Handle(PeerSession session, PeerEvent message)
    {
        session.Touch(_time.GetUtcNow().ToUnixTimeMilliseconds());
        if (session.BeginEvent())
        {
            Post(new SwarmCommand.Event(session, message, Stopwatch.GetTimestamp()));
        }
        else
        {
            session.EndEvent();
        }
    }

    /// <summary>Ends every session's stream (shutdown).</summary>
    public void CloseAllSessions() => Post(new SwarmCommand.CloseAll());

    public async Task<SwarmSnapshot> SnapshotAsync(CancellationToken cancellationToken)
    {
        var parts = new Task<SwarmSnapshot>[_shards.Length];
        for (var i = 0; i < _shards.Length; i++)
        {
            parts[i] = Ask<SwarmSnapshot>(_shards[i], reply => new SwarmCommand.Snapshot(reply), cancellationToken);
        }
        return Merge(await Task.WhenAll(parts).ConfigureAwait(false));
    }

    /// <summary>Creates the URL task (and starts its source), or joins the live one with the same id.</summary>
    public Task<UrlTaskResult> RegisterUrlTaskAsync(UrlTaskRegistration registration, CancellationToken cancellationToken) =>
        Ask<UrlTaskResult>(ShardOf(registration.TaskId), reply => new SwarmCommand.RegisterUrl(registration, reply), cancellationToken);

    /// <summary>The live URL task a registration key already leads to, or null (the origin must be stat'ed).</summary>
    /// <param name="requester">Who asks (its peer id): it may join the task it finds.</param>
    /// <param name="topic">The topic it will announce the task on: its subscribers may join too.</param>
    public Task<UrlTaskResult?> FindUrlTaskAsync(string key, string? expectedDigest, CancellationToken cancellationToken, string requester = "", string topic = "") =>
        _keys.Find(key) is { } id
            ? Ask<UrlTaskResult?>(ShardOf(id), reply => new SwarmCommand.FindUrl(key, expectedDigest, reply, requester, topic), cancellationToken)
            : Task.FromResult<UrlTaskResult?>(null);

    /// <summary>The live manifest of a URL task (partial piece digests), or null when it is not a live URL task.</summary>
    public Task<Manifest?> UrlManifestAsync(string digest, CancellationToken cancellationToken) =>
        Ask<Manifest?>(ShardOf(digest), reply => new SwarmCommand.UrlManifest(digest, reply), cancellationToken);

    /// <summary>
    /// Makes the connected peer <paramref name="peerId"/> the publisher member of <paramref name="digest"/>, holding
    /// every piece, as its own JoinTask would. Publish calls it before the announcement goes out, so that the
    /// first subscribers to join find the publisher in their first parent set instead of waiting for its
    /// join, which it can only send once Publish has answered. False: the peer has no session here.
    /// </summary>
    public Task<bool> JoinPublisherAsync(string peerId, string digest, int pieceCount, CancellationToken cancellationToken) =>
        Ask<bool>(ShardOf(digest), reply => new SwarmCommand.JoinAs(peerId, new JoinTask
        {
            Digest = digest,
            Bitmap = Google.Protobuf.ByteString.CopyFrom(Contracts.PieceBitmap.Full(pieceCount).ToBytes()),
            Publisher = true,
        }, reply), cancellationToken);

    public static SchedulerEvent Welcome(string brokerId) => new() { Welcome = new Welcome { BrokerId = brokerId } };

    /// <summary>Commands a shard's loop applies before it sends the piece news they produced.</summary>
    private const int MaxBatch = 256;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        IsRunning = true;
        using var timer = _time.CreateTimer(_ => Post(new SwarmCommand.Tick()), null, _sources.TickInterval, _sources.TickInterval);
        try
        {
            await Task.WhenAll(_shards.Select(shard => Task.Run(() => RunAsync(shard, stoppingToken), CancellationToken.None))).ConfigureAwait(false);
        }
        finally
        {
            IsRunning = false;
        }
    }

    private async Task RunAsync(SwarmShard shard, CancellationToken stoppingToken)
    {
        try
        {
            while (await shard.Commands.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                // What is queued now is one batch (bounded, so news is never held for long): its piece news
                // is merged per child and task, then sent.
                for (var applied = 0; applied < MaxBatch && shard.Commands.TryRead(out var command); applied++)
                {
                    try
                    {
                        shard.Apply(command);
                    }
                    catch (Exception e)
                    {
                        // A bug in one command must not take the whole swarm down.
                        BrokerLog.CoordinatorFailed(_logger, e);
                    }
                }
                shard.EndOfBatch();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            shard.Complete();
            while (shard.Commands.TryRead(out var left))
            {
                left.CancelReply();
            }
            shard.CloseSessions();
        }
    }

    /// <summary>
    /// Applies a command at once on the caller's thread, as the loops would (tests drive the coordinator
    /// this way, without the background loops).
    /// </summary>
    internal void Apply(SwarmCommand command)
    {
        switch (command)
        {
            case SwarmCommand.Snapshot s:
                var parts = new SwarmSnapshot[_shards.Length];
                for (var i = 0; i < _shards.Length; i++)
                {
                    var part = new TaskCompletionSource<SwarmSnapshot>();
                    _shards[i].Apply(new SwarmCommand.Snapshot(part));
                    parts[i] = part.Task.Result;
                }
                s.Reply.TrySetResult(Merge(parts));
                break;
            case SwarmCommand.FindUrl f when _keys.Find(f.Key) is null:
                f.Reply.TrySetResult(null);
                break;
            default:
                foreach (var shard in Targets(command))
                {
                    shard.Apply(command);
                    shard.EndOfBatch();
                }
                break;
        }
    }

    private void Post(SwarmCommand command)
    {
        foreach (var shard in Targets(command))
        {
            if (!shard.Post(command))
            {
                command.CancelReply();
            }
        }
    }

    private Task<T> Ask<T>(SwarmShard shard, Func<TaskCompletionSource<T>, SwarmCommand> command, CancellationToken cancellationToken)
    {
        var reply = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var message = command(reply);
        if (!shard.Post(message))
        {
            message.CancelReply();
        }
        return reply.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Where a command goes: a task's to the shard of its id, a peer's to every shard.</summary>
    private IEnumerable<SwarmShard> Targets(SwarmCommand command) => command switch
    {
        SwarmCommand.Event e => [ShardOf(TaskOf(e.Message))],
        SwarmCommand.RegisterUrl r => [ShardOf(r.Registration.TaskId)],
        SwarmCommand.FindUrl f => [ShardOf(_keys.Find(f.Key) ?? "")],
        SwarmCommand.UrlManifest m => [ShardOf(m.Digest)],
        SwarmCommand.JoinAs j => [ShardOf(j.Join.Digest)],
        _ => _shards,
    };

    private SwarmShard ShardOf(string digest) =>
        _shards.Length == 1 ? _shards[0] : _shards[(int)((uint)StringComparer.Ordinal.GetHashCode(digest) % (uint)_shards.Length)];

    /// <summary>The task a peer event is about ("" for a Hello or an empty event: any shard logs it as malformed).</summary>
    private static string TaskOf(PeerEvent message) => message.EventCase switch
    {
        PeerEvent.EventOneofCase.Join => message.Join.Digest,
        PeerEvent.EventOneofCase.PiecesFinished => message.PiecesFinished.Digest,
        PeerEvent.EventOneofCase.PieceFailed => message.PieceFailed.Digest,
        PeerEvent.EventOneofCase.Leave => message.Leave.Digest,
        PeerEvent.EventOneofCase.NeedParents => message.NeedParents.Digest,
        PeerEvent.EventOneofCase.SourceDone => message.SourceDone.Digest,
        PeerEvent.EventOneofCase.SourceFailed => message.SourceFailed.Digest,
        _ => "",
    };

    private static SwarmSnapshot Merge(IReadOnlyList<SwarmSnapshot> parts)
    {
        if (parts.Count == 1)
        {
            return parts[0];
        }
        var taskPeers = new Dictionary<string, IReadOnlyList<SwarmPeerView>>(StringComparer.Ordinal);
        var urlTasks = new List<Manifest>();
        foreach (var part in parts)
        {
            foreach (var (digest, peers) in part.TaskPeers)
            {
                taskPeers[digest] = peers;
            }
            urlTasks.AddRange(part.UrlTasks ?? []);
        }
        // Every shard holds every session: any part's count is the whole.
        return new SwarmSnapshot(parts[0].Peers, taskPeers, urlTasks);
    }

    /// <summary>
    /// Sessions connected and tasks with a member, as the shards last left them. Read at scrape time
    /// (<see cref="BrokerMetrics.CountFrom"/>), not set after every command: the loops stay free of a
    /// lock they would all share.
    /// </summary>
    public (int Peers, int Tasks) Counts()
    {
        var tasks = 0;
        foreach (var shard in _shards)
        {
            tasks += shard.TaskCount;
        }
        // Every shard applies every Connect and Disconnect: any one's count is the whole.
        return (_shards[0].PeerCount, tasks);
    }
}
