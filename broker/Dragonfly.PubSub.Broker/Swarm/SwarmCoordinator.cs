using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Threading.Channels;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// The only owner of the swarm state (who is connected, who holds which pieces, who is whose parent,
/// which peer fetches each URL task from its origin). Everyone else posts commands; one loop applies
/// them in order and answers through each session's outbound channel, so there are no locks around
/// the state.
/// </summary>
public sealed class SwarmCoordinator : BackgroundService
{
    private readonly Channel<SwarmCommand> _commands =
        Channel.CreateUnbounded<SwarmCommand>(new UnboundedChannelOptions { SingleReader = true });

    private readonly Func<string, Manifest?> _findManifest;
    private readonly Action<Manifest>? _storeSourced;
    private readonly UrlTaskNews? _news;
    private readonly ParentSelectionPolicy _policy;
    private readonly SourceOptions _sources;
    private readonly TimeProvider _time;
    private readonly ILogger<SwarmCoordinator> _logger;

    private readonly Dictionary<string, PeerSession> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SwarmTask> _tasks = new(StringComparer.Ordinal);
    // Per parent: how many (child, task) parent sets name it, and when children reported failures from it.
    private readonly Dictionary<string, int> _children = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<DateTimeOffset>> _failures = new(StringComparer.Ordinal);

    // URL tasks by task id, the registration keys that lead to them, and how many each source peer works on.
    private readonly Dictionary<string, UrlTask> _urlTasks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _urlKeys = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _sourceLoad = new(StringComparer.Ordinal);
    private readonly DateTimeOffset? _ownSeedDeadline;
    private long _incarnations;
    private bool _seedSeen;
    private bool _closing;

    /// <param name="findManifest">The catalogue: stored manifests by digest.</param>
    /// <param name="sources">How URL tasks get their sources (default: no own seed).</param>
    /// <param name="storeSourced">Persists the complete manifest of a URL task once its source finished.</param>
    /// <param name="news">Where URL task phases are reported (preheat jobs follow their blobs there).</param>
    public SwarmCoordinator(
        string brokerId,
        Func<string, Manifest?> findManifest,
        ParentSelectionPolicy policy,
        TimeProvider time,
        ILogger<SwarmCoordinator> logger,
        SourceOptions? sources = null,
        Action<Manifest>? storeSourced = null,
        UrlTaskNews? news = null)
    {
        BrokerId = brokerId;
        _findManifest = findManifest;
        _storeSourced = storeSourced;
        _news = news;
        _policy = policy;
        _sources = sources ?? new SourceOptions();
        _time = time;
        _logger = logger;
        _ownSeedDeadline = _sources.OwnSeedWait is { } wait ? time.GetUtcNow() + wait : null;
    }

    public string BrokerId { get; }

    /// <summary>True while the command loop runs.</summary>
    public bool IsRunning { get; private set; }

    /// <summary>Registers a session (after its Welcome was queued); replaces an older one with the same peer id.</summary>
    public void Connect(PeerSession session) => Post(new SwarmCommand.Connect(session));

    /// <summary>The session's stream ended: the peer leaves all its tasks.</summary>
    public void Disconnect(PeerSession session) => Post(new SwarmCommand.Disconnect(session));

    public void Handle(PeerSession session, PeerEvent message) => Post(new SwarmCommand.Event(session, message));

    /// <summary>Ends every session's stream (shutdown).</summary>
    public void CloseAllSessions() => Post(new SwarmCommand.CloseAll());

    public Task<SwarmSnapshot> SnapshotAsync(CancellationToken cancellationToken) =>
        Ask<SwarmSnapshot>(reply => new SwarmCommand.Snapshot(reply), cancellationToken);

    /// <summary>Creates the URL task (and starts its source), or joins the live one with the same id.</summary>
    public Task<UrlTaskResult> RegisterUrlTaskAsync(UrlTaskRegistration registration, CancellationToken cancellationToken) =>
        Ask<UrlTaskResult>(reply => new SwarmCommand.RegisterUrl(registration, reply), cancellationToken);

    /// <summary>The live URL task a registration key already leads to, or null (the origin must be stat'ed).</summary>
    public Task<UrlTaskResult?> FindUrlTaskAsync(string key, string? expectedDigest, CancellationToken cancellationToken) =>
        Ask<UrlTaskResult?>(reply => new SwarmCommand.FindUrl(key, expectedDigest, reply), cancellationToken);

    /// <summary>The live manifest of a URL task (partial piece digests), or null when it is not a live URL task.</summary>
    public Task<Manifest?> UrlManifestAsync(string digest, CancellationToken cancellationToken) =>
        Ask<Manifest?>(reply => new SwarmCommand.UrlManifest(digest, reply), cancellationToken);

    public static SchedulerEvent Welcome(string brokerId) => new() { Welcome = new Welcome { BrokerId = brokerId } };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        IsRunning = true;
        using var timer = _time.CreateTimer(_ => Post(new SwarmCommand.Tick()), null, _sources.TickInterval, _sources.TickInterval);
        try
        {
            await foreach (var command in _commands.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    Apply(command);
                }
                catch (Exception e)
                {
                    // A bug in one command must not take the whole swarm down.
                    BrokerLog.CoordinatorFailed(_logger, e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            IsRunning = false;
            _commands.Writer.TryComplete();
            while (_commands.Reader.TryRead(out var left))
            {
                left.CancelReply();
            }
            foreach (var session in _sessions.Values)
            {
                session.Close();
            }
        }
    }

    private Task<T> Ask<T>(Func<TaskCompletionSource<T>, SwarmCommand> command, CancellationToken cancellationToken)
    {
        var reply = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(command(reply));
        return reply.Task.WaitAsync(cancellationToken);
    }

    private void Post(SwarmCommand command)
    {
        if (!_commands.Writer.TryWrite(command))
        {
            command.CancelReply();
        }
    }

    internal void Apply(SwarmCommand command)
    {
        switch (command)
        {
            case SwarmCommand.Connect c:
                OnConnect(c.Session);
                break;
            case SwarmCommand.Disconnect d:
                OnDisconnect(d.Session);
                break;
            case SwarmCommand.Event e:
                OnEvent(e.Session, e.Message);
                break;
            case SwarmCommand.Snapshot s:
                s.Reply.TrySetResult(TakeSnapshot());
                break;
            case SwarmCommand.RegisterUrl r:
                r.Reply.TrySetResult(OnRegisterUrl(r.Registration));
                break;
            case SwarmCommand.FindUrl f:
                f.Reply.TrySetResult(OnFindUrl(f.Key, f.ExpectedDigest));
                break;
            case SwarmCommand.UrlManifest m:
                m.Reply.TrySetResult(_urlTasks.TryGetValue(m.Digest, out var url) ? url.ToManifest() : null);
                break;
            case SwarmCommand.Tick:
                OnTick();
                break;
            case SwarmCommand.CloseAll:
                // Shutting down is not the sources' failure: their tasks must not fail or move.
                _closing = true;
                foreach (var session in _sessions.Values.ToList())
                {
                    RemoveSession(session);
                    session.Close();
                }
                break;
        }
        BrokerMetrics.Peers.Set(_sessions.Count);
        BrokerMetrics.Tasks.Set(_tasks.Count);
    }

    private void OnConnect(PeerSession session)
    {
        if (_sessions.TryGetValue(session.PeerId, out var previous))
        {
            RemoveSession(previous);
            previous.Close();
            BrokerLog.PeerReplaced(_logger, session.PeerId);
        }
        _sessions[session.PeerId] = session;
        _seedSeen |= session.Seed;
        BrokerLog.PeerConnected(_logger, session.PeerId, session.Host, session.Port, session.Cluster, session.Zone);
        if (session.Seed)
        {
            // URL tasks waiting for a source get the seed at once.
            foreach (var url in _urlTasks.Values.ToList())
            {
                EvaluateSource(url);
            }
        }
    }

    private void OnDisconnect(PeerSession session)
    {
        // A replaced session's stream ends after its successor connected: leave the successor alone.
        if (_sessions.TryGetValue(session.PeerId, out var current) && ReferenceEquals(current, session))
        {
            RemoveSession(session);
            BrokerLog.PeerDisconnected(_logger, session.PeerId);
        }
        session.Close();
    }

    private void RemoveSession(PeerSession session)
    {
        // Gone first, so that no task that loses its source here picks this peer again.
        _sessions.Remove(session.PeerId);
        var gone = $"the source peer {session.PeerId} disconnected before it had fetched everything";
        foreach (var digest in session.Tasks.ToList())
        {
            Leave(session, digest, gone);
        }
        foreach (var url in _urlTasks.Values.Where(u => u.Source == session.PeerId).ToList())
        {
            FailSourceAttempt(url, session.PeerId, gone);
        }
    }

    private void OnEvent(PeerSession session, PeerEvent message)
    {
        if (!_sessions.TryGetValue(session.PeerId, out var current) || !ReferenceEquals(current, session))
        {
            return; // a late message from a session that was replaced or closed
        }
        switch (message.EventCase)
        {
            case PeerEvent.EventOneofCase.Join:
                OnJoin(session, message.Join);
                break;
            case PeerEvent.EventOneofCase.PiecesFinished:
                OnPiecesFinished(session, message.PiecesFinished);
                break;
            case PeerEvent.EventOneofCase.PieceFailed:
                OnPieceFailed(session, message.PieceFailed);
                break;
            case PeerEvent.EventOneofCase.NeedParents:
                if (Member(session, message.NeedParents.Digest, "NeedParents") is ({ } task, { } member))
                {
                    SendParents(task, member, message.NeedParents.RequestId);
                }
                break;
            case PeerEvent.EventOneofCase.Leave:
                Leave(session, message.Leave.Digest, null);
                break;
            case PeerEvent.EventOneofCase.SourceDone:
                OnSourceDone(session, message.SourceDone);
                break;
            case PeerEvent.EventOneofCase.SourceFailed:
                OnSourceFailed(session, message.SourceFailed);
                break;
            case PeerEvent.EventOneofCase.Hello:
                BrokerLog.MalformedPeerEvent(_logger, session.PeerId, "a second Hello on the same stream; ignored");
                break;
            default:
                BrokerLog.MalformedPeerEvent(_logger, session.PeerId, "an empty or unknown event; ignored");
                break;
        }
    }

    private void OnJoin(PeerSession session, JoinTask join)
    {
        _urlTasks.TryGetValue(join.Digest, out var url);
        if (!_tasks.TryGetValue(join.Digest, out var task))
        {
            int pieceCount;
            if (url is not null)
            {
                pieceCount = url.Layout.PieceCount;
            }
            else if (ContentDigest.TryParse(join.Digest, out _) && _findManifest(join.Digest) is { } manifest)
            {
                pieceCount = manifest.PieceDigests.Count;
            }
            else
            {
                BrokerLog.UnknownTask(_logger, session.PeerId, join.Digest);
                return;
            }
            task = new SwarmTask(join.Digest, pieceCount);
            _tasks[join.Digest] = task;
        }

        var bitmap = PieceBitmap.FromBytes(join.Bitmap.Span, task.PieceCount);
        if (task.Members.TryGetValue(session.PeerId, out var member))
        {
            member.Bitmap = bitmap;
            member.Publisher = join.Publisher;
        }
        else
        {
            member = new TaskMember(session, bitmap, join.Publisher, task.NextJoinOrder());
            task.Members[session.PeerId] = member;
            task.ElectOnJoin(member);
            session.Tasks.Add(task.Digest);
        }
        BrokerLog.PeerJoined(_logger, session.PeerId, task.Digest, bitmap.CountSet, task.PieceCount, join.Publisher ? " as publisher" : "");

        if (url is not null)
        {
            // A member verifies every piece: the digests known so far come before any parent.
            url.LastActivity = _time.GetUtcNow();
            if (url.KnownDigests > 0)
            {
                session.Send(new SchedulerEvent { PieceDigests = url.KnownDigestsEvent() });
            }
            if (url.Sourced)
            {
                session.Send(TaskSourcedEvent(url));
            }
        }

        if (member.IsComplete)
        {
            ReleaseParents(member);
        }
        else
        {
            SendParents(task, member, join.RequestId);
        }
        if (bitmap.CountSet > 0)
        {
            OfferAsParent(task, member, bitmap.SetIndexes());
        }
        if (url is not null)
        {
            EvaluateSource(url);
        }
    }

    private void OnPiecesFinished(PeerSession session, PiecesFinished finished)
    {
        if (Member(session, finished.Digest, "PiecesFinished") is not ({ } task, { } member))
        {
            return;
        }
        var added = new List<int>(finished.Indexes.Count);
        foreach (var index in finished.Indexes)
        {
            if ((uint)index >= (uint)task.PieceCount)
            {
                BrokerLog.MalformedPeerEvent(_logger, session.PeerId, $"piece index {index} of {task.Digest} is out of range 0..{task.PieceCount - 1}");
                continue;
            }
            if (member.Bitmap.Set(index))
            {
                added.Add(index);
            }
        }
        if (finished.Digests.Count > 0 && _urlTasks.TryGetValue(task.Digest, out var url))
        {
            LearnDigests(url, task, member, finished, added);
        }
        if (added.Count == 0)
        {
            return;
        }
        if (member.IsComplete)
        {
            ReleaseParents(member);
        }

        var available = new SchedulerEvent
        {
            PieceAvailable = new PieceAvailable { Digest = task.Digest, PeerId = session.PeerId, Indexes = { added } },
        };
        // Only the reporter's children can use the news (agents fetch from their parents alone);
        // telling every member would cost O(members) messages per piece, O(N²) per task.
        var reporter = session.PeerId;
        foreach (var other in task.Members.Values)
        {
            if (!ReferenceEquals(other, member) && !other.IsComplete && other.Parents.Exists(p => p.PeerId == reporter))
            {
                other.Session.Send(available);
            }
        }
        OfferAsParent(task, member, added);
    }

    /// <summary>
    /// Digests the source of a URL task fetched from the origin: kept, and sent to every member before
    /// anyone hears that those pieces are available (a member never fetches a piece it cannot verify).
    /// </summary>
    private void LearnDigests(UrlTask url, SwarmTask task, TaskMember member, PiecesFinished finished, List<int> added)
    {
        var peerId = member.Session.PeerId;
        if (url.Source != peerId)
        {
            BrokerLog.DigestsIgnored(_logger, task.Digest, peerId);
            return;
        }
        if (finished.Digests.Count != finished.Indexes.Count)
        {
            BrokerLog.MalformedPeerEvent(_logger, peerId,
                $"PiecesFinished of {task.Digest} carries {finished.Digests.Count} digests for {finished.Indexes.Count} pieces; digests ignored");
            return;
        }
        var learned = new PieceDigests { Digest = task.Digest };
        var newlyHeld = added.ToHashSet();
        long sourceBytes = 0;
        for (var i = 0; i < finished.Indexes.Count; i++)
        {
            var index = finished.Indexes[i];
            var digest = finished.Digests[i];
            if ((uint)index >= (uint)task.PieceCount || digest.Length == 0)
            {
                continue; // out of range (reported above) or fetched from a peer, whose digest was known
            }
            if (digest.Length != SHA256.HashSizeInBytes)
            {
                BrokerLog.MalformedPeerEvent(_logger, peerId, $"the digest of piece {index} of {task.Digest} is {digest.Length} bytes, not 32; ignored");
                continue;
            }
            if (url.Learn(index, digest, out var conflicting))
            {
                learned.Indexes.Add(index);
                learned.Digests.Add(digest);
            }
            else if (conflicting)
            {
                BrokerLog.DigestConflict(_logger, peerId, index, task.Digest);
            }
            if (newlyHeld.Remove(index))
            {
                sourceBytes += url.Layout.LengthOf(index);
            }
        }
        if (sourceBytes > 0)
        {
            BrokerMetrics.SourceBytes.Inc(sourceBytes);
        }
        if (learned.Indexes.Count == 0)
        {
            return;
        }
        var message = new SchedulerEvent { PieceDigests = learned };
        foreach (var other in task.Members.Values)
        {
            if (!ReferenceEquals(other, member))
            {
                other.Session.Send(message);
            }
        }
    }

    private void OnPieceFailed(PeerSession session, PieceFailed failed)
    {
        if (Member(session, failed.Digest, "PieceFailed") is not ({ } task, { } member))
        {
            return;
        }
        if (failed.ParentId.Length > 0)
        {
            var now = _time.GetUtcNow();
            if (!_failures.TryGetValue(failed.ParentId, out var failures))
            {
                failures = [];
                _failures[failed.ParentId] = failures;
            }
            failures.RemoveAll(at => now - at >= ParentSelectionPolicy.FailureMemory);
            failures.Add(now);
            if (failed.Kind == FailureKind.Corrupt)
            {
                member.CorruptParents.Add(failed.ParentId);
            }
        }
        BrokerLog.PieceFailed(_logger, session.PeerId, KindName(failed.Kind), failed.Index, task.Digest, failed.ParentId);
        if (!member.IsComplete)
        {
            SendParents(task, member);
        }
    }

    /// <param name="sourceGone">Why the peer goes, when it is the task's source (null: it sent LeaveTask).</param>
    private void Leave(PeerSession session, string digest, string? sourceGone)
    {
        session.Tasks.Remove(digest);
        if (_tasks.TryGetValue(digest, out var task) && task.Members.Remove(session.PeerId, out var member))
        {
            ReleaseParents(member);
            var gateway = task.ReelectOnLeave(member);
            if (task.Members.Count == 0)
            {
                _tasks.Remove(digest);
            }
            else
            {
                // Children that lost this parent get a fresh set at once instead of waiting to starve.
                foreach (var other in task.Members.Values)
                {
                    if (!other.IsComplete && (ReferenceEquals(other, gateway) || other.Parents.Exists(p => p.PeerId == session.PeerId)))
                    {
                        SendParents(task, other); // a new gateway may now reach other clusters too
                    }
                }
            }
        }
        if (_urlTasks.TryGetValue(digest, out var url))
        {
            url.LastActivity = _time.GetUtcNow();
            if (url.Source == session.PeerId)
            {
                FailSourceAttempt(url, session.PeerId,
                    sourceGone ?? $"the source peer {session.PeerId} left the task before it had fetched everything");
            }
            else if (url.Sourced && !_tasks.ContainsKey(digest))
            {
                // Its manifest is in the catalogue; nobody holds the content any more.
                Forget(url, "its last peer left");
            }
        }
    }

    /// <summary>
    /// <paramref name="holder"/> gained pieces: incomplete peers that still have room for parents and lack
    /// one of them get a fresh set, so a seed, publisher or resumed peer is used at once. At most
    /// MaxParents peers per event (those with the fewest parents first): one holder can serve only a
    /// few children, and recomputing every parent set of a large swarm on each report would not scale.
    /// </summary>
    private void OfferAsParent(SwarmTask task, TaskMember holder, IEnumerable<int> gained)
    {
        var pieces = gained as IReadOnlyCollection<int> ?? gained.ToList();
        var needy = new List<TaskMember>();
        foreach (var other in task.Members.Values)
        {
            if (ReferenceEquals(other, holder)
                || other.IsComplete
                || other.OrdinaryParents >= _policy.MaxParents
                || other.Parents.Exists(p => p.PeerId == holder.Session.PeerId)
                || other.CorruptParents.Contains(holder.Session.PeerId)
                || !task.MayUse(other, holder))
            {
                continue;
            }
            foreach (var index in pieces)
            {
                if (!other.Bitmap[index])
                {
                    needy.Add(other);
                    break;
                }
            }
        }
        foreach (var other in needy.OrderBy(m => m.OrdinaryParents).Take(_policy.MaxParents))
        {
            SendParents(task, other);
        }
    }

    /// <param name="requestId">The JoinTask's or NeedParents' request id this set answers (0: pushed unasked).</param>
    private void SendParents(SwarmTask task, TaskMember member, ulong requestId = 0)
    {
        var started = Stopwatch.GetTimestamp();
        // The source of a URL task is a parent of last resort, like a publisher: peers share first.
        var source = _urlTasks.TryGetValue(task.Digest, out var url) ? url.Source : null;
        var child = new ChildProfile(member.Session.PeerId, member.Bitmap, member.Session.Cluster, member.Session.Zone, member.CorruptParents,
            task.MayCrossClusters(member));
        var candidates = task.Members.Values
            .Where(o => !ReferenceEquals(o, member))
            .Select(o => new ParentCandidate(
                o.Session.PeerId,
                o.Bitmap,
                o.Publisher || o.Session.PeerId == source,
                o.Session.Cluster,
                o.Session.Zone,
                _children.GetValueOrDefault(o.Session.PeerId),
                o.Session.UploadSlots,
                _failures.TryGetValue(o.Session.PeerId, out var f) ? f : []));
        var choices = _policy.Select(child, candidates);

        ReleaseParents(member);
        var set = new ParentSet { Digest = task.Digest, RequestId = requestId };
        foreach (var choice in choices)
        {
            var parent = task.Members[choice.PeerId];
            member.Parents.Add((choice.PeerId, choice.LastResort));
            _children[choice.PeerId] = _children.GetValueOrDefault(choice.PeerId) + 1;
            set.Parents.Add(new Parent
            {
                PeerId = choice.PeerId,
                Host = AddressFor(parent.Session, member.Session),
                Port = parent.Session.Port,
                Bitmap = ByteString.CopyFrom(parent.Bitmap.ToBytes()),
                LastResort = choice.LastResort,
            });
        }
        BrokerMetrics.ScheduleDuration.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            BrokerLog.ParentsAssigned(_logger, member.Session.PeerId, task.Digest,
                string.Join(", ", choices.Select(c => c.LastResort ? c.PeerId + " (last resort)" : c.PeerId)));
        }
        member.Session.Send(new SchedulerEvent { Parents = set });
    }

    /// <summary>
    /// The address <paramref name="child"/> dials to reach <paramref name="parent"/>. A parent that
    /// reached the broker over loopback runs on the broker's machine (the broker's own seed): a child on
    /// another machine reaches it at the address it reached the broker at.
    /// </summary>
    private static string AddressFor(PeerSession parent, PeerSession child) =>
        IsLoopback(parent.Host) && !IsLoopback(child.Host) && child.BrokerAddress.Length > 0
            ? child.BrokerAddress
            : parent.Host;

    private static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));

    private void ReleaseParents(TaskMember member)
    {
        foreach (var (peerId, _) in member.Parents)
        {
            if (_children.TryGetValue(peerId, out var count))
            {
                if (count <= 1)
                {
                    _children.Remove(peerId);
                }
                else
                {
                    _children[peerId] = count - 1;
                }
            }
        }
        member.Parents.Clear();
    }

    private (SwarmTask Task, TaskMember Member)? Member(PeerSession session, string digest, string what)
    {
        if (_tasks.TryGetValue(digest, out var task) && task.Members.TryGetValue(session.PeerId, out var member))
        {
            return (task, member);
        }
        BrokerLog.MalformedPeerEvent(_logger, session.PeerId, $"{what} for {digest}, which it has not joined; send JoinTask first");
        return null;
    }

    // ---- URL tasks: registration, sources, failover ----

    private UrlTaskResult OnRegisterUrl(UrlTaskRegistration registration)
    {
        var requestedPieceSize = registration.PieceSizeRequested ? registration.PieceSize : (int?)null;
        if (_urlTasks.TryGetValue(registration.TaskId, out var live))
        {
            if (Conflict(live, registration.Size, requestedPieceSize, registration.ExpectedDigest) is { } conflict)
            {
                return UrlTaskResult.Refused(conflict);
            }
            Attach(live, registration.Key, registration.ExpectedDigest);
            return Ok(live);
        }

        // Known from an earlier run (sourced then) or, for a content-addressed task, published content.
        var known = _findManifest(registration.TaskId);
        var pieceSize = registration.PieceSize;
        if (known is not null)
        {
            if (known.Size != registration.Size)
            {
                if (registration.ContentAddressed)
                {
                    return UrlTaskResult.Refused(
                        $"{registration.RedactedUrl} is {registration.Size} bytes, but {registration.TaskId} is {known.Size} bytes; the URL does not serve that content");
                }
                known = null; // the object changed since it was fetched: start afresh
            }
            else if (requestedPieceSize is { } requested && requested != known.PieceSize)
            {
                return UrlTaskResult.Refused(PieceSizeConflict(registration.TaskId, known.PieceSize));
            }
            else
            {
                pieceSize = known.PieceSize;
            }
        }

        var url = new UrlTask(registration, pieceSize, _time.GetUtcNow(), ++_incarnations);
        if (known is not null && known.PieceDigests.Count == url.Layout.PieceCount)
        {
            for (var i = 0; i < known.PieceDigests.Count; i++)
            {
                if (known.PieceDigests[i].Length == SHA256.HashSizeInBytes)
                {
                    url.Learn(i, known.PieceDigests[i], out _);
                }
            }
            var content = known.UrlTask ? known.ContentDigest : known.Digest;
            url.ContentDigest = content.Length > 0 ? content : null;
        }
        if (url.ContentDigest is { } verified && registration.ExpectedDigest is { } expected && verified != expected)
        {
            return UrlTaskResult.Refused(DigestConflict(url, expected));
        }

        _urlTasks[url.Id] = url;
        Attach(url, registration.Key, null);
        BrokerLog.UrlTaskRegistered(_logger, url.Id, url.RedactedUrl, url.Layout.Size, url.Layout.PieceCount, url.Layout.PieceSize);
        EvaluateSource(url);
        return Ok(url);
    }

    private UrlTaskResult? OnFindUrl(string key, string? expectedDigest)
    {
        if (!_urlKeys.TryGetValue(key, out var id) || !_urlTasks.TryGetValue(id, out var url))
        {
            return null;
        }
        if (Conflict(url, url.Layout.Size, null, expectedDigest) is { } conflict)
        {
            return UrlTaskResult.Refused(conflict);
        }
        Attach(url, key, expectedDigest);
        return Ok(url);
    }

    private static UrlTaskResult Ok(UrlTask url) => UrlTaskResult.Ok(url.ToManifest(), url.Incarnation, PhaseOf(url));

    private static UrlTaskPhase PhaseOf(UrlTask url) =>
        url.Sourced ? UrlTaskPhase.Sourced : url.Source is not null ? UrlTaskPhase.Fetching : UrlTaskPhase.Waiting;

    private void Report(UrlTask url, UrlTaskPhase phase, string? error = null) =>
        _news?.Publish(new UrlTaskUpdate(url.Id, url.Incarnation, phase, error));

    private void Attach(UrlTask url, string key, string? expectedDigest)
    {
        url.Keys.Add(key);
        _urlKeys[key] = url.Id;
        url.LastActivity = _time.GetUtcNow();
        // A later --digest applies to the next source and to SourceDone (no earlier request asked for one).
        if (expectedDigest is not null && url.ExpectedDigest is null && url.ContentDigest is null)
        {
            url.ExpectedDigest = expectedDigest;
        }
    }

    private static string? Conflict(UrlTask url, long size, int? requestedPieceSize, string? expectedDigest)
    {
        if (size != url.Layout.Size)
        {
            return $"{url.RedactedUrl} is {size} bytes now, but task {url.Id} is {url.Layout.Size} bytes; "
                + "the object changed or the URL serves other content; try again once the running download has finished";
        }
        if (requestedPieceSize is { } requested && requested != url.Layout.PieceSize)
        {
            return PieceSizeConflict(url.Id, url.Layout.PieceSize);
        }
        if (expectedDigest is not null && url.ContentDigest is { } verified && verified != expectedDigest)
        {
            return DigestConflict(url, expectedDigest);
        }
        return null;
    }

    private static string PieceSizeConflict(string id, int pieceSize) =>
        $"{id} is already known with {pieceSize}-byte pieces; ask again without a piece size or with {pieceSize}";

    private static string DigestConflict(UrlTask url, string expected) =>
        $"{url.RedactedUrl} hashes to {url.ContentDigest}, not to --digest {expected}";

    /// <summary>Gives a URL task that needs one a source: a seed, else (after the own seed's start-up wait) one member.</summary>
    /// <summary>How long members of a credentialed URL task wait for a seed or for the agent that registered it.</summary>
    private static readonly TimeSpan CredentialedSourceGrace = TimeSpan.FromSeconds(10);

    private void EvaluateSource(UrlTask url)
    {
        if (_closing || url.Sourced || url.Source is not null || !_urlTasks.ContainsKey(url.Id))
        {
            return;
        }
        _tasks.TryGetValue(url.Id, out var swarm);
        if (url.AllDigestsKnown && url.ContentDigest is not null && swarm is not null && HoldsEveryPiece(swarm))
        {
            MarkSourced(url, url.ContentDigest, sourcePeer: null); // the swarm has it already: no origin fetch
            return;
        }
        var seed = _sessions.Values
            .Where(s => s.Seed && !url.FailedSources.Contains(s.PeerId))
            .OrderBy(s => _sourceLoad.GetValueOrDefault(s.PeerId))
            .ThenBy(s => s.PeerId, StringComparer.Ordinal)
            .FirstOrDefault();
        if (seed is not null)
        {
            AssignSource(url, seed, isSeed: true);
            return;
        }
        if (_ownSeedDeadline is { } deadline && !_seedSeen && _time.GetUtcNow() < deadline)
        {
            return; // the broker's own seed is starting: it, not an agent, should go to the origin
        }
        // A member may be the source only if the task's headers, which go to the source, are its own.
        var member = swarm?.Members.Values
            .Where(m => !url.FailedSources.Contains(m.Session.PeerId))
            .Where(m => !url.CarriesCredentials || m.Session.PeerId == url.Requester)
            .OrderByDescending(m => m.Bitmap.CountSet)
            .ThenBy(m => _sourceLoad.GetValueOrDefault(m.Session.PeerId))
            .ThenBy(m => m.Session.PeerId, StringComparer.Ordinal)
            .FirstOrDefault();
        if (member is not null)
        {
            AssignSource(url, member.Session, isSeed: false);
            return;
        }
        if (url.FailedAttempts > 0 && swarm is not null && swarm.Members.Count > 0)
        {
            // Every peer that could go to the origin already failed it: waiting would hang the members.
            FailTask(url, $"{url.LastError} (gave up after {url.FailedAttempts} failed source attempts: no other peer can fetch it)", null);
        }
        else if (url.CarriesCredentials && swarm is not null && swarm.Members.Count > 0
            && _time.GetUtcNow() - url.CreatedAt >= CredentialedSourceGrace)
        {
            // Members wait a moment for the registering agent to join; after that, failing beats hanging.
            FailTask(url, $"{url.RedactedUrl} needs credentials, which only a seed peer or the agent that supplied them may use, and no seed peer is connected; run dfbroker with its seed or a dfagent --seed", null);
        }
    }

    private void AssignSource(UrlTask url, PeerSession session, bool isSeed)
    {
        SetSource(url, session.PeerId);
        url.SourceIsSeed = isSeed;
        var fetch = new FetchSource
        {
            Manifest = url.ToManifest(),
            Url = url.Url.OriginalString,
            ExpectedDigest = url.ExpectedDigest ?? "",
        };
        fetch.Headers.Add(url.Headers);
        session.Send(new SchedulerEvent { FetchSource = fetch });
        Report(url, UrlTaskPhase.Fetching);
        BrokerLog.SourceAssigned(_logger, url.Id, session.PeerId, isSeed ? "seed" : "member agent", url.FailedAttempts + 1, _sources.MaxSourceAttempts);

        // Its children now treat it as a parent of last resort.
        if (_tasks.TryGetValue(url.Id, out var swarm))
        {
            foreach (var other in swarm.Members.Values)
            {
                if (!other.IsComplete && other.Parents.Exists(p => p.PeerId == session.PeerId && !p.LastResort))
                {
                    SendParents(swarm, other);
                }
            }
        }
    }

    private void SetSource(UrlTask url, string? peerId)
    {
        if (url.Source is { } previous)
        {
            var load = _sourceLoad.GetValueOrDefault(previous) - 1;
            if (load <= 0)
            {
                _sourceLoad.Remove(previous);
            }
            else
            {
                _sourceLoad[previous] = load;
            }
        }
        url.Source = peerId;
        if (peerId is not null)
        {
            _sourceLoad[peerId] = _sourceLoad.GetValueOrDefault(peerId) + 1;
        }
    }

    private void FailSourceAttempt(UrlTask url, string peerId, string error)
    {
        if (url.Source != peerId)
        {
            return;
        }
        SetSource(url, null);
        if (_closing)
        {
            return;
        }
        url.FailedSources.Add(peerId);
        url.FailedAttempts++;
        url.LastError = error;
        BrokerLog.SourceFailed(_logger, url.Id, peerId, url.FailedAttempts, _sources.MaxSourceAttempts, error);
        if (url.FailedAttempts >= _sources.MaxSourceAttempts)
        {
            FailTask(url, $"{error} (gave up after {url.FailedAttempts} failed source attempts)", null);
            return;
        }
        EvaluateSource(url);
    }

    private void OnSourceDone(PeerSession session, SourceDone done)
    {
        if (SourceOf(session, done.Digest, "SourceDone") is not { } url)
        {
            return;
        }
        if (!ContentDigest.TryParse(done.ContentDigest, out var content))
        {
            FailSourceAttempt(url, session.PeerId, $"the source peer {session.PeerId} reported '{done.ContentDigest}', which is not a content digest");
            return;
        }
        if (!url.AllDigestsKnown)
        {
            FailSourceAttempt(url, session.PeerId,
                $"the source peer {session.PeerId} reported {url.Id} done with {url.Layout.PieceCount - url.KnownDigests} piece digest(s) never reported");
            return;
        }
        var contentText = content.Value.ToString();
        if (url.ExpectedDigest is { } expected && expected != contentText)
        {
            url.ContentDigest = contentText;
            FailTask(url, DigestConflict(url, expected), session);
            return;
        }
        MarkSourced(url, contentText, session);
    }

    private void OnSourceFailed(PeerSession session, SourceFailed failed)
    {
        if (SourceOf(session, failed.Digest, "SourceFailed") is not { } url)
        {
            return;
        }
        var error = failed.Error.ReplaceLineEndings(" ").Trim();
        if (error.Length == 0)
        {
            error = $"the source could not fetch {url.RedactedUrl}";
        }
        if (failed.Permanent)
        {
            FailTask(url, error, session);
        }
        else
        {
            FailSourceAttempt(url, session.PeerId, error);
        }
    }

    private UrlTask? SourceOf(PeerSession session, string digest, string what)
    {
        if (_urlTasks.TryGetValue(digest, out var url) && url.Source == session.PeerId)
        {
            return url;
        }
        // Late news from a source that was replaced, or from a task that already failed: nothing to do.
        BrokerLog.MalformedPeerEvent(_logger, session.PeerId, $"{what} for {digest}, which it is not the source of; ignored");
        return null;
    }

    private void MarkSourced(UrlTask url, string contentDigest, PeerSession? sourcePeer)
    {
        url.ContentDigest = contentDigest;
        url.Sourced = true;
        url.LostSince = null;
        SetSource(url, null);
        try
        {
            _storeSourced?.Invoke(url.ToManifest());
        }
        catch (Exception e)
        {
            // The swarm goes on; only a restart would have to fetch it again.
            BrokerLog.StoreFailed(_logger, url.Id, e);
        }
        var message = TaskSourcedEvent(url);
        var told = Broadcast(url.Id, message);
        if (sourcePeer is not null && !told.Contains(sourcePeer.PeerId))
        {
            sourcePeer.Send(message);
        }
        Report(url, UrlTaskPhase.Sourced);
        BrokerLog.UrlTaskSourced(_logger, url.Id, sourcePeer?.PeerId ?? "the swarm", contentDigest);
    }

    /// <summary>The task failed for good: every member (and the source) is told, and the task is forgotten.</summary>
    private void FailTask(UrlTask url, string error, PeerSession? reporter)
    {
        var message = new SchedulerEvent { TaskFailed = new TaskFailed { Digest = url.Id, Error = error } };
        var told = Broadcast(url.Id, message);
        foreach (var peerId in new[] { reporter?.PeerId, url.Source })
        {
            if (peerId is not null && told.Add(peerId) && _sessions.TryGetValue(peerId, out var session))
            {
                session.Send(message);
            }
        }
        if (_tasks.Remove(url.Id, out var swarm))
        {
            foreach (var member in swarm.Members.Values)
            {
                ReleaseParents(member);
                member.Session.Tasks.Remove(url.Id);
            }
        }
        BrokerLog.UrlTaskFailed(_logger, url.Id, error);
        Report(url, UrlTaskPhase.Failed, error);
        Forget(url, "it failed");
    }

    private HashSet<string> Broadcast(string digest, SchedulerEvent message)
    {
        var told = new HashSet<string>(StringComparer.Ordinal);
        if (_tasks.TryGetValue(digest, out var swarm))
        {
            foreach (var member in swarm.Members.Values)
            {
                member.Session.Send(message);
                told.Add(member.Session.PeerId);
            }
        }
        return told;
    }

    private static SchedulerEvent TaskSourcedEvent(UrlTask url) =>
        new() { TaskSourced = new TaskSourced { Digest = url.Id, ContentDigest = url.ContentDigest ?? "" } };

    /// <summary>Drops a URL task from memory (its URL and headers with it); a later registration starts afresh.</summary>
    private void Forget(UrlTask url, string reason)
    {
        SetSource(url, null);
        _urlTasks.Remove(url.Id);
        foreach (var key in url.Keys)
        {
            if (_urlKeys.TryGetValue(key, out var id) && id == url.Id)
            {
                _urlKeys.Remove(key);
            }
        }
        BrokerLog.UrlTaskForgotten(_logger, url.Id, reason);
    }

    private static bool HoldsEveryPiece(SwarmTask swarm)
    {
        if (swarm.PieceCount == 0)
        {
            return swarm.Members.Count > 0;
        }
        if (swarm.Members.Values.Any(m => m.IsComplete))
        {
            return true; // the common case, checked every tick: the source or a finished member holds it all
        }
        var union = new byte[(swarm.PieceCount + 7) / 8];
        foreach (var member in swarm.Members.Values)
        {
            var bits = member.Bitmap.ToBytes();
            for (var i = 0; i < union.Length; i++)
            {
                union[i] |= bits[i];
            }
        }
        return PieceBitmap.FromBytes(union, swarm.PieceCount).IsComplete;
    }

    private void OnTick()
    {
        var now = _time.GetUtcNow();
        foreach (var url in _urlTasks.Values.ToList())
        {
            if (!_urlTasks.ContainsKey(url.Id))
            {
                continue; // forgotten by an earlier one in this loop
            }
            _tasks.TryGetValue(url.Id, out var swarm);
            if (url.Sourced)
            {
                if (swarm is null)
                {
                    if (now - url.LastActivity >= _sources.IdleExpiry)
                    {
                        Forget(url, "nobody joined it");
                    }
                }
                else if (HoldsEveryPiece(swarm))
                {
                    url.LostSince = null;
                }
                else if (url.LostSince is null)
                {
                    url.LostSince = now;
                }
                else if (now - url.LostSince >= _sources.LostPiecesGrace)
                {
                    // The peers that held some pieces left: fetch them again rather than let members starve.
                    url.Sourced = false;
                    url.LostSince = null;
                    BrokerLog.UrlTaskLostPieces(_logger, url.Id);
                    EvaluateSource(url);
                }
                continue;
            }
            if (url.Source is null && (swarm is null || swarm.Members.Count == 0) && now - url.LastActivity >= _sources.IdleExpiry)
            {
                Report(url, UrlTaskPhase.Failed,
                    $"nobody fetched {url.RedactedUrl}: no seed peer took it and no agent joined the task within {_sources.IdleExpiry.TotalMinutes:0.#} min");
                Forget(url, "nobody joined it");
                continue;
            }
            EvaluateSource(url);
        }
    }

    private SwarmSnapshot TakeSnapshot()
    {
        var taskPeers = new Dictionary<string, IReadOnlyList<SwarmPeerView>>(StringComparer.Ordinal);
        foreach (var task in _tasks.Values)
        {
            taskPeers[task.Digest] = task.Members.Values
                .Select(m => new SwarmPeerView(
                    m.Session.PeerId,
                    m.Session.Host,
                    m.Session.Port,
                    m.Session.Cluster,
                    m.Session.Zone,
                    m.Publisher,
                    m.Bitmap.CountSet,
                    task.PieceCount,
                    m.Parents.Select(p => p.PeerId).ToList(),
                    _children.GetValueOrDefault(m.Session.PeerId)))
                .OrderBy(p => p.PeerId, StringComparer.Ordinal)
                .ToList();
        }
        var urlTasks = _urlTasks.Values.Select(u => u.ToManifest()).ToList();
        return new SwarmSnapshot(_sessions.Count, taskPeers, urlTasks);
    }

    private static string KindName(FailureKind kind) => kind switch
    {
        FailureKind.Corrupt => "corrupt",
        FailureKind.Unreachable => "unreachable",
        FailureKind.Missing => "missing",
        _ => "failed",
    };
}
