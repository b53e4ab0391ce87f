using System.Security.Cryptography;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>URL tasks: registration and lookup, and what the membership tells the sourcing (joins, reports, departures).</summary>
internal sealed partial class UrlTaskSourcing
{
    /// <summary>The piece count of a URL task of this shard, for the first JoinTask of it; null: not a live URL task.</summary>
    public int? PieceCountOf(string digest) => _urlTasks.TryGetValue(digest, out var url) ? url.Layout.PieceCount : null;

    /// <summary>
    /// <paramref name="session"/> joined URL task <paramref name="digest"/>: it verifies every piece, so the
    /// digests known so far (and whether the task is sourced) go out before any parent set.
    /// </summary>
    public void BeforeParents(PeerSession session, string digest)
    {
        if (!_urlTasks.TryGetValue(digest, out var url))
        {
            return;
        }
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

    /// <summary>A member joined: the task may now get a source (or turn out to be in the swarm already).</summary>
    public void AfterJoin(string digest)
    {
        if (_urlTasks.TryGetValue(digest, out var url))
        {
            EvaluateSource(url);
        }
    }

    /// <summary>The member reported pieces; those from a URL task's source may carry their digests.</summary>
    public void OnPiecesFinished(SwarmTask task, TaskMember member, PiecesFinished finished, List<int> added)
    {
        if (finished.Digests.Count > 0 && _urlTasks.TryGetValue(task.Digest, out var url))
        {
            LearnDigests(url, task, member, finished, added);
        }
    }

    /// <param name="sourceGone">Why the peer goes, when it is the task's source (null: it sent LeaveTask).</param>
    public void OnLeft(PeerSession session, string digest, string? sourceGone)
    {
        if (!_urlTasks.TryGetValue(digest, out var url))
        {
            return;
        }
        url.LastActivity = _time.GetUtcNow();
        if (url.Source == session.PeerId)
        {
            FailSourceAttempt(url, session.PeerId,
                sourceGone ?? $"the source peer {session.PeerId} left the task before it had fetched everything");
        }
        else if (url.Sourced && !_state.Tasks.ContainsKey(digest))
        {
            // Its manifest is in the catalogue; nobody holds the content any more.
            Forget(url, "its last peer left");
        }
    }

    /// <summary>The peer's session is gone (after it left its tasks): what it fetched as a source needs another source.</summary>
    public void OnSessionRemoved(PeerSession session, string gone)
    {
        foreach (var url in _urlTasks.Values.Where(u => u.Source == session.PeerId).ToList())
        {
            FailSourceAttempt(url, session.PeerId, gone);
        }
    }

    /// <summary>A seed peer connected: URL tasks waiting for a source get it at once.</summary>
    public void OnSeedConnected()
    {
        foreach (var url in _urlTasks.Values.ToList())
        {
            EvaluateSource(url);
        }
    }

    /// <summary>Creates the URL task (and starts its source), or joins the live one with the same id.</summary>
    public UrlTaskResult Register(UrlTaskRegistration registration)
    {
        var requestedPieceSize = registration.PieceSizeRequested ? registration.PieceSize : (int?)null;
        if (_urlTasks.TryGetValue(registration.TaskId, out var live))
        {
            if (Conflict(live, registration.Size, requestedPieceSize, registration.ExpectedDigest) is { } conflict)
            {
                return UrlTaskResult.Refused(conflict.Text, conflict.Kind);
            }
            Attach(live, registration.Key, registration.ExpectedDigest);
            live.Admit(registration.Requester, registration.Topic);
            return Ok(live);
        }

        // Known from an earlier run (sourced then) or, for a content-addressed task, published content.
        // Sourced before (the catalogue), or being sourced when its broker was lost (the digests learned so far).
        var known = _findManifest(registration.TaskId) ?? _sources.Progress?.Partial(registration.TaskId);
        var pieceSize = registration.PieceSize;
        if (known is not null)
        {
            if (known.Size != registration.Size)
            {
                if (registration.ContentAddressed)
                {
                    return UrlTaskResult.Refused(
                        $"{registration.RedactedUrl} is {registration.Size} bytes, but {registration.TaskId} is {known.Size} bytes; the URL does not serve that content",
                        TaskErrorKind.DigestMismatch);
                }
                known = null; // the object changed since it was fetched: start afresh
            }
            else if (requestedPieceSize is { } requested && requested != known.PieceSize)
            {
                return UrlTaskResult.Refused(PieceSizeConflict(registration.TaskId, known.PieceSize), TaskErrorKind.Other);
            }
            else
            {
                pieceSize = known.PieceSize;
            }
        }

        var url = new UrlTask(registration, pieceSize, _time.GetUtcNow(), _keys.NextIncarnation());
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
            return UrlTaskResult.Refused(DigestConflict(url, expected), TaskErrorKind.DigestMismatch);
        }

        _urlTasks[url.Id] = url;
        Attach(url, registration.Key, null);
        BrokerLog.UrlTaskRegistered(_logger, url.Id, url.RedactedUrl, url.Layout.Size, url.Layout.PieceCount, url.Layout.PieceSize);
        EvaluateSource(url);
        return Ok(url);
    }

    /// <summary>The live URL task a registration key leads to, or null (the origin must be stat'ed).</summary>
    public UrlTaskResult? Find(string key, string? expectedDigest, string requester = "", string topic = "")
    {
        if (_keys.Find(key) is not { } id || !_urlTasks.TryGetValue(id, out var url))
        {
            return null;
        }
        if (Conflict(url, url.Layout.Size, null, expectedDigest) is { } conflict)
        {
            return UrlTaskResult.Refused(conflict.Text, conflict.Kind);
        }
        Attach(url, key, expectedDigest);
        url.Admit(requester, topic);
        return Ok(url);
    }

    /// <summary>
    /// Whether <paramref name="peerId"/> may join URL task <paramref name="digest"/> (secure mode, a peer that
    /// may not source): yes for a task without credentials, else only as one of its registrants or with a
    /// topic it was announced on in <paramref name="grants"/>. Null: not a live URL task of this shard.
    /// </summary>
    public bool? MayJoin(string digest, string peerId, IReadOnlyList<string> grants) =>
        _urlTasks.TryGetValue(digest, out var url)
            ? !url.Private || url.Admitted.Contains(peerId) || url.Topics.Any(topic => Security.TopicGrants.Allow(grants, topic))
            : null;

    private static UrlTaskResult Ok(UrlTask url) => UrlTaskResult.Ok(url.ToManifest(), url.Incarnation, PhaseOf(url));

    private static UrlTaskPhase PhaseOf(UrlTask url) =>
        url.Sourced ? UrlTaskPhase.Sourced : url.Source is not null ? UrlTaskPhase.Fetching : UrlTaskPhase.Waiting;

    private void Report(UrlTask url, UrlTaskPhase phase, string? error = null) =>
        _news?.Publish(new UrlTaskUpdate(url.Id, url.Incarnation, phase, error));

    private void Attach(UrlTask url, string key, string? expectedDigest)
    {
        url.Keys.Add(key);
        _keys.Set(key, url.Id);
        url.LastActivity = _time.GetUtcNow();
        // A later --digest applies to the next source and to SourceDone (no earlier request asked for one).
        if (expectedDigest is not null && url.ExpectedDigest is null && url.ContentDigest is null)
        {
            url.ExpectedDigest = expectedDigest;
        }
    }

    private static (string Text, TaskErrorKind Kind)? Conflict(UrlTask url, long size, int? requestedPieceSize, string? expectedDigest)
    {
        if (size != url.Layout.Size)
        {
            return ($"{url.RedactedUrl} is {size} bytes now, but task {url.Id} is {url.Layout.Size} bytes; "
                + "the object changed or the URL serves other content; try again once the running download has finished",
                TaskErrorKind.SourceChanged);
        }
        if (requestedPieceSize is { } requested && requested != url.Layout.PieceSize)
        {
            return (PieceSizeConflict(url.Id, url.Layout.PieceSize), TaskErrorKind.Other);
        }
        if (expectedDigest is not null && url.ContentDigest is { } verified && verified != expectedDigest)
        {
            return (DigestConflict(url, expectedDigest), TaskErrorKind.DigestMismatch);
        }
        return null;
    }

    private static string PieceSizeConflict(string id, int pieceSize) =>
        $"{id} is already known with {pieceSize}-byte pieces; ask again without a piece size or with {pieceSize}";

    private static string DigestConflict(UrlTask url, string expected) =>
        $"{url.RedactedUrl} hashes to {url.ContentDigest}, not to --digest {expected}";

    /// <summary>Gives a URL task that needs one a source: a seed, else (after the own seed's start-up wait) one member.</summary>

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
        _sources.Progress?.Learned(url.Id, url.Layout.Size, url.Layout.PieceSize, learned.Indexes, learned.Digests);
        var message = new SchedulerEvent { PieceDigests = learned };
        foreach (var other in task.Members.Values)
        {
            if (!ReferenceEquals(other, member))
            {
                other.Session.Send(message);
            }
        }
    }
}
