using System.Threading.Channels;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// One single-reader loop and the tasks that hash to it: it applies the commands of its channel in
/// order to its <see cref="SwarmState"/> (membership: connects, joins, reports, departures) and leaves
/// the decisions to <see cref="ISwarmScheduling"/> (parents) and <see cref="UrlTaskSourcing"/> (origin
/// fetches). Every shard sees every session; each sees only its own tasks' events.
/// </summary>
internal sealed class SwarmShard
{
    private readonly Channel<SwarmCommand> _commands =
        Channel.CreateUnbounded<SwarmCommand>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SwarmState _state = new();
    private readonly ISwarmScheduling _scheduling;
    private readonly UrlTaskSourcing _sourcing;
    private readonly Func<string, Manifest?> _findManifest;
    private readonly PeerLoad _load;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    // Peer-level news is logged once, by the first shard, although every shard applies it.
    private readonly bool _logsPeers;
    private int _peerCount;
    private int _taskCount;

    public SwarmShard(int index, ParentSelectionPolicy policy, CandidateSampler sampler, PeerLoad load, UrlTaskKeys keys,
        Func<string, Manifest?> findManifest, Action<Manifest>? storeSourced, UrlTaskNews? news, SourceOptions sources,
        TimeProvider time, ILogger logger, Security.PeerTicketIssuer? tickets = null)
    {
        Index = index;
        _findManifest = findManifest;
        _load = load;
        _time = time;
        _logger = logger;
        _logsPeers = index == 0;
        UrlTaskSourcing? sourcing = null;
        _scheduling = new ParentScheduling(policy, sampler, load, digest => sourcing!.SourceOf(digest), logger, tickets);
        _sourcing = sourcing = new UrlTaskSourcing(_state, _scheduling, load, keys, findManifest, storeSourced, news, sources, time, logger);
    }

    public int Index { get; }

    // --- Fleet dashboard (issue 13): every applied event is also told to the activity record ---

    /// <summary>Where the swarm's traffic is recorded for the dashboard (null: not recorded).</summary>
    internal Dashboard.SwarmActivity? Activity { get; init; }

    /// <summary>The fleet registry, on the one shard that reports peer-level news (null on the others).</summary>
    internal Dashboard.FleetRegistry? Fleet { get; init; }

    private Manifest? ManifestOf(string digest) => _sourcing.ManifestOf(digest) ?? _findManifest(digest);

    /// <summary>Sessions connected (the same on every shard) and tasks of this shard, after the last command.
    /// Written by the shard's loop, read at scrape time from another thread.</summary>
    public int PeerCount => Volatile.Read(ref _peerCount);
    public int TaskCount => Volatile.Read(ref _taskCount);

    public ChannelReader<SwarmCommand> Commands => _commands.Reader;

    public bool Post(SwarmCommand command) => _commands.Writer.TryWrite(command);

    public void Complete() => _commands.Writer.TryComplete();

    /// <summary>Ends every session this shard knows (the loop has stopped).</summary>
    public void CloseSessions()
    {
        foreach (var session in _state.Sessions.Values)
        {
            session.Close();
        }
    }

    /// <summary>The loop applied what was queued: piece news held for merging goes out now.</summary>
    public void EndOfBatch() => _scheduling.FlushNews();

    public void Apply(SwarmCommand command)
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
                try
                {
                    OnEvent(e.Session, e.Message, e.Arrived);
                }
                finally
                {
                    e.Session.EndEvent();
                }
                break;
            case SwarmCommand.Snapshot s:
                s.Reply.TrySetResult(TakeSnapshot());
                break;
            case SwarmCommand.RegisterUrl r:
                r.Reply.TrySetResult(_sourcing.Register(r.Registration));
                break;
            case SwarmCommand.FindUrl f:
                f.Reply.TrySetResult(_sourcing.Find(f.Key, f.ExpectedDigest, f.Requester, f.Topic));
                break;
            case SwarmCommand.UrlManifest m:
                m.Reply.TrySetResult(_sourcing.ManifestOf(m.Digest));
                break;
            case SwarmCommand.JoinAs j:
                if (_state.Sessions.TryGetValue(j.PeerId, out var joining))
                {
                    OnJoin(joining, j.Join);
                }
                j.Reply.TrySetResult(joining is not null);
                break;
            case SwarmCommand.Tick:
                _sourcing.OnTick();
                break;
            case SwarmCommand.CloseAll:
                // Shutting down is not the sources' failure: their tasks must not fail or move.
                _state.Closing = true;
                foreach (var session in _state.Sessions.Values.ToList())
                {
                    RemoveSession(session);
                    session.Close();
                }
                break;
        }
        Volatile.Write(ref _peerCount, _state.Sessions.Count);
        Volatile.Write(ref _taskCount, _state.Tasks.Count);
    }

    private void OnConnect(PeerSession session)
    {
        if (_state.Sessions.TryGetValue(session.PeerId, out var previous))
        {
            RemoveSession(previous);
            previous.Close();
            if (_logsPeers)
            {
                BrokerLog.PeerReplaced(_logger, session.PeerId);
            }
        }
        _state.Sessions[session.PeerId] = session;
        _state.SeedSeen |= session.Seed;
        Fleet?.Connected(session);
        if (_logsPeers)
        {
            BrokerLog.PeerConnected(_logger, session.PeerId, session.Host, session.Port, session.Cluster, session.Zone);
        }
        if (session.Seed)
        {
            _sourcing.OnSeedConnected();
        }
    }

    private void OnDisconnect(PeerSession session)
    {
        // A replaced session's stream ends after its successor connected: leave the successor alone.
        if (_state.IsCurrent(session))
        {
            RemoveSession(session);
            if (_logsPeers)
            {
                BrokerLog.PeerDisconnected(_logger, session.PeerId);
            }
        }
        Fleet?.Disconnected(session);
        session.Close();
    }

    private void RemoveSession(PeerSession session)
    {
        _load.Forget(session.PeerId);
        // Gone first, so that no task that loses its source here picks this peer again.
        _state.Sessions.Remove(session.PeerId);
        var gone = $"the source peer {session.PeerId} disconnected before it had fetched everything";
        foreach (var digest in _state.JoinedBy(session))
        {
            Leave(session, digest, gone);
        }
        _sourcing.OnSessionRemoved(session, gone);
    }

    private void OnEvent(PeerSession session, PeerEvent message, long arrived)
    {
        if (!_state.IsCurrent(session))
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
                    _scheduling.SendParents(task, member, message.NeedParents.RequestId, arrived);
                }
                break;
            case PeerEvent.EventOneofCase.Leave:
                Leave(session, message.Leave.Digest, null);
                break;
            case PeerEvent.EventOneofCase.SourceDone:
                _sourcing.OnSourceDone(session, message.SourceDone);
                break;
            case PeerEvent.EventOneofCase.SourceFailed:
                Activity?.SourceFailed(message.SourceFailed.Digest, session.PeerId, message.SourceFailed.Error, message.SourceFailed.Permanent);
                _sourcing.OnSourceFailed(session, message.SourceFailed);
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
        if (JoinRefusal(session, join.Digest) is { } refusal)
        {
            BrokerLog.JoinRefused(_logger, session.PeerId, join.Digest, refusal);
            Activity?.JoinRefused(join.Digest, session.PeerId, refusal);
            Security.SecurityMetrics.Denied.WithLabels("grpc").Inc();
            session.Send(new SchedulerEvent { TaskFailed = new TaskFailed { Digest = join.Digest, Error = $"the broker refused peer {session.PeerId} a place in {join.Digest}: {refusal}" } });
            return;
        }
        if (!_state.Tasks.TryGetValue(join.Digest, out var task))
        {
            int pieceCount;
            if (_sourcing.PieceCountOf(join.Digest) is int urlPieces)
            {
                pieceCount = urlPieces;
            }
            else if (ContentDigest.TryParse(join.Digest, out _) && _findManifest(join.Digest) is { } manifest)
            {
                pieceCount = manifest.PieceDigests.Count;
            }
            else
            {
                BrokerLog.UnknownTask(_logger, session.PeerId, join.Digest);
                session.TellNotJoined(join.Digest);
                return;
            }
            task = new SwarmTask(join.Digest, pieceCount);
            _state.Tasks[join.Digest] = task;
        }

        var bitmap = PieceBitmap.FromBytes(join.Bitmap.Span, task.PieceCount);
        if (task.Members.TryGetValue(session.PeerId, out var member))
        {
            member.Replace(bitmap);
            task.SetPublisher(member, join.Publisher);
        }
        else
        {
            member = new TaskMember(session, bitmap, join.Publisher, task.NextJoinOrder());
            task.Add(member);
            task.ElectOnJoin(member);
            _state.MarkJoined(session, task.Digest);
            session.Joined(task.Digest);
        }
        BrokerLog.PeerJoined(_logger, session.PeerId, task.Digest, member.HeldPieces, task.PieceCount, join.Publisher ? " as publisher" : "");
        Activity?.Joined(task.Digest, session.PeerId, member.Publisher, member.Bitmap, ManifestOf);

        _sourcing.BeforeParents(session, task.Digest);
        if (member.IsComplete)
        {
            _scheduling.ReleaseParents(task, member);
        }
        else
        {
            _scheduling.SendParents(task, member, join.RequestId);
        }
        if (member.HeldPieces > 0)
        {
            _scheduling.OfferAsParent(task, member, [.. bitmap.SetIndexes()]);
        }
        _sourcing.AfterJoin(task.Digest);
    }

    /// <summary>
    /// Why the peer may not join the task (issue 11: a member gets the ticket that opens the other members'
    /// peer ports), or null. Secure mode only; seeds may join anything (they fetch and serve for the fleet).
    /// </summary>
    private string? JoinRefusal(PeerSession session, string digest)
    {
        if (session.Topics is not { } grants || session.MaySource)
        {
            return null;
        }
        if (_sourcing.MayJoin(digest, session.PeerId, grants) is { } mayJoinUrlTask)
        {
            return mayJoinUrlTask ? null
                : "the URL task was registered with credentials; register it yourself (e.g. dfget URL) with credentials its origin accepts";
        }
        var stored = _findManifest(digest);
        if (stored is { Topic.Length: > 0 } manifest && manifest.Publisher != session.PeerId
            && !Security.TopicGrants.Allow(grants, manifest.Topic))
        {
            return $"it was published on topic '{manifest.Topic}', which the peer's certificate does not grant";
        }
        return stored is null ? null : PrivateUrlTasks.JoinRefusal(stored, session.PeerId, grants);
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
            if (member.Add(index))
            {
                added.Add(index);
            }
        }
        // Asked before the sourcing sees the pieces: their last ones may end its source.
        var sourced = finished.Digests.Count > 0 && _sourcing.SourceOf(task.Digest) == session.PeerId;
        _sourcing.OnPiecesFinished(task, member, finished, added);
        Activity?.PiecesFinished(task.Digest, session.PeerId, finished, member.HeldPieces, member.IsComplete, sourced, session.Seed);
        if (added.Count == 0)
        {
            return;
        }
        if (member.IsComplete)
        {
            _scheduling.ReleaseParents(task, member);
        }
        _scheduling.RelayAvailable(task, member, added);
        _scheduling.OfferAsParent(task, member, added);
    }

    private void OnPieceFailed(PeerSession session, PieceFailed failed)
    {
        if (Member(session, failed.Digest, "PieceFailed") is not ({ } task, { } member))
        {
            return;
        }
        // Only a connected peer's failures are kept: a made-up parent id must not grow the broker's maps.
        if (failed.ParentId.Length > 0 && _state.Sessions.ContainsKey(failed.ParentId))
        {
            _load.RecordFailure(failed.ParentId, _time.GetUtcNow());
            if (failed.Kind == FailureKind.Corrupt)
            {
                member.CorruptParents.Add(failed.ParentId);
            }
        }
        BrokerLog.PieceFailed(_logger, session.PeerId, KindName(failed.Kind), failed.Index, task.Digest, failed.ParentId);
        Activity?.PieceFailed(task.Digest, session.PeerId, failed.ParentId, KindName(failed.Kind), failed.Index);
        if (!member.IsComplete)
        {
            _scheduling.SendParents(task, member);
        }
    }

    /// <param name="sourceGone">Why the peer goes, when it is the task's source (null: it sent LeaveTask).</param>
    private void Leave(PeerSession session, string digest, string? sourceGone)
    {
        _state.MarkLeft(session, digest);
        if (_state.Tasks.TryGetValue(digest, out var task) && task.Remove(session.PeerId, out var member))
        {
            Activity?.Left(digest, session.PeerId);
            _scheduling.ReleaseParents(task, member);
            var gateway = task.ReelectOnLeave(member);
            if (task.Members.Count == 0)
            {
                _state.Tasks.Remove(digest);
            }
            else
            {
                // Children that lost this parent get a fresh set at once instead of waiting to starve;
                // a new gateway may now reach other clusters too.
                var affected = member.Children.ToList();
                if (gateway is not null && !affected.Contains(gateway))
                {
                    affected.Add(gateway);
                }
                foreach (var other in affected.OrderBy(m => m.JoinOrder))
                {
                    if (other.IsComplete)
                    {
                        _scheduling.ReleaseParents(task, other);
                    }
                    else
                    {
                        _scheduling.SendParents(task, other);
                    }
                }
            }
            member.Children.Clear();
        }
        _sourcing.OnLeft(session, digest, sourceGone);
    }

    private (SwarmTask Task, TaskMember Member)? Member(PeerSession session, string digest, string what)
    {
        if (_state.TryGetMember(digest, session.PeerId, out var task, out var member))
        {
            return (task, member);
        }
        BrokerLog.MalformedPeerEvent(_logger, session.PeerId, $"{what} for {digest}, which it has not joined; send JoinTask first");
        session.TellNotJoined(digest);
        return null;
    }

    /// <summary>This shard's part of a snapshot: every session (each shard has them all), its tasks and URL tasks.</summary>
    private SwarmSnapshot TakeSnapshot()
    {
        var taskPeers = new Dictionary<string, IReadOnlyList<SwarmPeerView>>(StringComparer.Ordinal);
        foreach (var task in _state.Tasks.Values)
        {
            taskPeers[task.Digest] = task.Members.Values
                .Select(m => new SwarmPeerView(
                    m.PeerId,
                    m.Session.Host,
                    m.Session.Port,
                    m.Session.Cluster,
                    m.Session.Zone,
                    m.Publisher,
                    m.HeldPieces,
                    task.PieceCount,
                    m.Parents.Select(p => p.PeerId).ToList(),
                    _scheduling.ChildrenOf(m.PeerId)))
                .OrderBy(p => p.PeerId, StringComparer.Ordinal)
                .ToList();
        }
        return new SwarmSnapshot(_state.Sessions.Count, taskPeers, [.. _sourcing.Manifests()]);
    }

    private static string KindName(FailureKind kind) => kind switch
    {
        FailureKind.Corrupt => "corrupt",
        FailureKind.Unreachable => "unreachable",
        FailureKind.Missing => "missing",
        _ => "failed",
    };
}
