using System.Diagnostics;
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
/// The only owner of the swarm state (who is connected, who holds which pieces, who is whose parent).
/// Everyone else posts commands; one loop applies them in order and answers through each session's
/// outbound channel, so there are no locks around the state.
/// </summary>
public sealed class SwarmCoordinator : BackgroundService
{
    private readonly Channel<SwarmCommand> _commands =
        Channel.CreateUnbounded<SwarmCommand>(new UnboundedChannelOptions { SingleReader = true });

    private readonly Func<string, Manifest?> _findManifest;
    private readonly ParentSelectionPolicy _policy;
    private readonly TimeProvider _time;
    private readonly ILogger<SwarmCoordinator> _logger;

    private readonly Dictionary<string, PeerSession> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SwarmTask> _tasks = new(StringComparer.Ordinal);
    // Per parent: how many (child, task) parent sets name it, and when children reported failures from it.
    private readonly Dictionary<string, int> _children = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<DateTimeOffset>> _failures = new(StringComparer.Ordinal);

    public SwarmCoordinator(
        string brokerId,
        Func<string, Manifest?> findManifest,
        ParentSelectionPolicy policy,
        TimeProvider time,
        ILogger<SwarmCoordinator> logger)
    {
        BrokerId = brokerId;
        _findManifest = findManifest;
        _policy = policy;
        _time = time;
        _logger = logger;
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

    public Task<SwarmSnapshot> SnapshotAsync(CancellationToken cancellationToken)
    {
        var reply = new TaskCompletionSource<SwarmSnapshot>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(new SwarmCommand.Snapshot(reply));
        return reply.Task.WaitAsync(cancellationToken);
    }

    public static SchedulerEvent Welcome(string brokerId) => new() { Welcome = new Welcome { BrokerId = brokerId } };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        IsRunning = true;
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
            foreach (var session in _sessions.Values)
            {
                session.Close();
            }
        }
    }

    private void Post(SwarmCommand command)
    {
        if (!_commands.Writer.TryWrite(command) && command is SwarmCommand.Snapshot snapshot)
        {
            snapshot.Reply.TrySetCanceled();
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
            case SwarmCommand.CloseAll:
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
        BrokerLog.PeerConnected(_logger, session.PeerId, session.Host, session.Port, session.Cluster, session.Zone);
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
        foreach (var digest in session.Tasks.ToList())
        {
            Leave(session, digest);
        }
        _sessions.Remove(session.PeerId);
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
                    SendParents(task, member);
                }
                break;
            case PeerEvent.EventOneofCase.Leave:
                Leave(session, message.Leave.Digest);
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
        if (!_tasks.TryGetValue(join.Digest, out var task))
        {
            var manifest = ContentDigest.TryParse(join.Digest, out _) ? _findManifest(join.Digest) : null;
            if (manifest is null)
            {
                BrokerLog.UnknownTask(_logger, session.PeerId, join.Digest);
                return;
            }
            task = new SwarmTask(join.Digest, manifest.PieceDigests.Count);
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
            member = new TaskMember(session, bitmap, join.Publisher);
            task.Members[session.PeerId] = member;
            session.Tasks.Add(task.Digest);
        }
        BrokerLog.PeerJoined(_logger, session.PeerId, task.Digest, bitmap.CountSet, task.PieceCount, join.Publisher ? " as publisher" : "");

        if (member.IsComplete)
        {
            ReleaseParents(member);
        }
        else
        {
            SendParents(task, member);
        }
        if (bitmap.CountSet > 0)
        {
            OfferAsParent(task, member, bitmap.SetIndexes());
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

    private void Leave(PeerSession session, string digest)
    {
        session.Tasks.Remove(digest);
        if (!_tasks.TryGetValue(digest, out var task) || !task.Members.Remove(session.PeerId, out var member))
        {
            return;
        }
        ReleaseParents(member);
        if (task.Members.Count == 0)
        {
            _tasks.Remove(digest);
            return;
        }
        // Children that lost this parent get a fresh set at once instead of waiting to starve.
        foreach (var other in task.Members.Values)
        {
            if (!other.IsComplete && other.Parents.Exists(p => p.PeerId == session.PeerId))
            {
                SendParents(task, other);
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
                || other.CorruptParents.Contains(holder.Session.PeerId))
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

    private void SendParents(SwarmTask task, TaskMember member)
    {
        var started = Stopwatch.GetTimestamp();
        var child = new ChildProfile(member.Session.PeerId, member.Bitmap, member.Session.Cluster, member.Session.Zone, member.CorruptParents);
        var candidates = task.Members.Values
            .Where(o => !ReferenceEquals(o, member))
            .Select(o => new ParentCandidate(
                o.Session.PeerId,
                o.Bitmap,
                o.Publisher,
                o.Session.Cluster,
                o.Session.Zone,
                _children.GetValueOrDefault(o.Session.PeerId),
                o.Session.UploadSlots,
                _failures.TryGetValue(o.Session.PeerId, out var f) ? f : []));
        var choices = _policy.Select(child, candidates);

        ReleaseParents(member);
        var set = new ParentSet { Digest = task.Digest };
        foreach (var choice in choices)
        {
            var parent = task.Members[choice.PeerId];
            member.Parents.Add((choice.PeerId, choice.LastResort));
            _children[choice.PeerId] = _children.GetValueOrDefault(choice.PeerId) + 1;
            set.Parents.Add(new Parent
            {
                PeerId = choice.PeerId,
                Host = parent.Session.Host,
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
        return new SwarmSnapshot(_sessions.Count, taskPeers);
    }

    private static string KindName(FailureKind kind) => kind switch
    {
        FailureKind.Corrupt => "corrupt",
        FailureKind.Unreachable => "unreachable",
        FailureKind.Missing => "missing",
        _ => "failed",
    };
}
