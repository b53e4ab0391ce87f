using System.Security.Cryptography;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>
/// Back-to-source for the URL tasks of one shard: which peer fetches each task from its origin (a seed,
/// else one member allowed its headers), failover when that peer fails or goes, the piece digests it
/// reports, and the end of the task (sourced, failed, forgotten). This file: choosing and replacing
/// sources and finishing tasks; <c>UrlTaskSourcing.Registration.cs</c>: registration and the hooks the
/// membership calls. Runs on the shard's loop only.
/// </summary>
internal sealed partial class UrlTaskSourcing
{
    private readonly Dictionary<string, UrlTask> _urlTasks = new(StringComparer.Ordinal);
    private readonly SwarmState _state;
    private readonly ISwarmScheduling _scheduling;
    private readonly PeerLoad _load;
    private readonly UrlTaskKeys _keys;
    private readonly Func<string, Manifest?> _findManifest;
    private readonly Action<Manifest>? _storeSourced;
    private readonly UrlTaskNews? _news;
    private readonly SourceOptions _sources;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DateTimeOffset? _ownSeedDeadline;

    public UrlTaskSourcing(SwarmState state, ISwarmScheduling scheduling, PeerLoad load, UrlTaskKeys keys, Func<string, Manifest?> findManifest,
        Action<Manifest>? storeSourced, UrlTaskNews? news, SourceOptions sources, TimeProvider time, ILogger logger)
    {
        _state = state;
        _scheduling = scheduling;
        _load = load;
        _keys = keys;
        _findManifest = findManifest;
        _storeSourced = storeSourced;
        _news = news;
        _sources = sources;
        _time = time;
        _logger = logger;
        _ownSeedDeadline = sources.OwnSeedWait is { } wait ? time.GetUtcNow() + wait : null;
    }

    /// <summary>The peer fetching this URL task from its origin now (a parent of last resort), or null.</summary>
    public string? SourceOf(string digest) => _urlTasks.TryGetValue(digest, out var url) ? url.Source : null;

    /// <summary>The live manifest of a URL task of this shard, or null.</summary>
    public Manifest? ManifestOf(string digest) => _urlTasks.TryGetValue(digest, out var url) ? url.ToManifest() : null;

    public IEnumerable<Manifest> Manifests() => _urlTasks.Values.Select(u => u.ToManifest());

    /// <summary>How long members of a URL task wait for a seed (or for the agent that registered a credentialed one) before it fails.</summary>
    private static readonly TimeSpan CredentialedSourceGrace = TimeSpan.FromSeconds(10);

    private void EvaluateSource(UrlTask url)
    {
        if (_state.Closing || url.Sourced || url.Source is not null || !_urlTasks.ContainsKey(url.Id))
        {
            return;
        }
        _state.Tasks.TryGetValue(url.Id, out var swarm);
        if (url.AllDigestsKnown && url.ContentDigest is not null && swarm is not null && HoldsEveryPiece(swarm))
        {
            MarkSourced(url, url.ContentDigest, sourcePeer: null); // the swarm has it already: no origin fetch
            return;
        }
        var seed = _state.Sessions.Values
            .Where(s => s.Seed && !url.FailedSources.Contains(s.PeerId))
            .OrderBy(s => _load.SourcingOf(s.PeerId))
            .ThenBy(s => s.PeerId, StringComparer.Ordinal)
            .FirstOrDefault();
        if (seed is not null)
        {
            AssignSource(url, seed, isSeed: true);
            return;
        }
        if (_ownSeedDeadline is { } deadline && !_state.SeedSeen && _time.GetUtcNow() < deadline)
        {
            return; // the broker's own seed is starting: it, not an agent, should go to the origin
        }
        // A member may be the source only if the task's headers, which go to the source, are its own,
        // and (secure mode) only with the seed role: the source vouches for every member's piece digests.
        var member = swarm?.Members.Values
            .Where(m => m.Session.MaySource && !url.FailedSources.Contains(m.Session.PeerId))
            .Where(m => !url.CarriesCredentials || m.Session.PeerId == url.Requester)
            .OrderByDescending(m => m.Bitmap.CountSet)
            .ThenBy(m => _load.SourcingOf(m.Session.PeerId))
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
            FailTask(url, $"{url.LastError} (gave up after {url.FailedAttempts} failed source attempts: no other peer can fetch it)", null, url.LastErrorKind);
        }
        else if (url.CarriesCredentials && swarm is not null && swarm.Members.Count > 0
            && _time.GetUtcNow() - url.CreatedAt >= CredentialedSourceGrace)
        {
            // Members wait a moment for the registering agent to join; after that, failing beats hanging.
            FailTask(url, $"{url.RedactedUrl} needs credentials, which only a seed peer or the agent that supplied them (in secure mode: if it holds the seed role) may use, and no seed peer is connected; run dfbroker with its seed or a dfagent --seed", null);
        }
        else if (swarm is not null && swarm.Members.Count > 0 && !swarm.Members.Values.Any(m => m.Session.MaySource)
            && _time.GetUtcNow() - url.CreatedAt >= CredentialedSourceGrace)
        {
            FailTask(url, $"no seed peer is connected to fetch {url.RedactedUrl}, and only peers enrolled with the seed role may go to an origin; run dfbroker with its seed or a dfagent --seed enrolled with a token of role seed", null);
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
        if (_state.TryGetMember(url.Id, session.PeerId, out var swarm, out var source))
        {
            foreach (var other in source.Children.OrderBy(m => m.JoinOrder).ToList())
            {
                if (!other.IsComplete && other.Parents.Exists(p => ReferenceEquals(p.Member, source) && !p.LastResort))
                {
                    _scheduling.SendParents(swarm, other);
                }
            }
        }
    }

    private void SetSource(UrlTask url, string? peerId)
    {
        if (url.Source is { } previous)
        {
            _load.RemoveSourcing(previous);
        }
        url.Source = peerId;
        if (peerId is not null)
        {
            _load.AddSourcing(peerId);
        }
    }

    private void FailSourceAttempt(UrlTask url, string peerId, string error, SourceErrorKind kind = SourceErrorKind.Unspecified)
    {
        if (url.Source != peerId)
        {
            return;
        }
        SetSource(url, null);
        if (_state.Closing)
        {
            return;
        }
        url.FailedSources.Add(peerId);
        url.FailedAttempts++;
        url.LastError = error;
        url.LastErrorKind = kind;
        BrokerLog.SourceFailed(_logger, url.Id, peerId, url.FailedAttempts, _sources.MaxSourceAttempts, error);
        if (url.FailedAttempts >= _sources.MaxSourceAttempts)
        {
            FailTask(url, $"{error} (gave up after {url.FailedAttempts} failed source attempts)", null, kind);
            return;
        }
        EvaluateSource(url);
    }

    public void OnSourceDone(PeerSession session, SourceDone done)
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
            FailTask(url, DigestConflict(url, expected), session, SourceErrorKind.DigestMismatch);
            return;
        }
        MarkSourced(url, contentText, session);
    }

    public void OnSourceFailed(PeerSession session, SourceFailed failed)
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
            FailTask(url, error, session, failed.Kind);
        }
        else
        {
            FailSourceAttempt(url, session.PeerId, error, failed.Kind);
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
            _sources.Progress?.Forget(url.Id); // the catalogue has every digest now
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
    private void FailTask(UrlTask url, string error, PeerSession? reporter, SourceErrorKind kind = SourceErrorKind.Unspecified)
    {
        var message = new SchedulerEvent { TaskFailed = new TaskFailed { Digest = url.Id, Error = error, Kind = kind } };
        var told = Broadcast(url.Id, message);
        foreach (var peerId in new[] { reporter?.PeerId, url.Source })
        {
            if (peerId is not null && told.Add(peerId) && _state.Sessions.TryGetValue(peerId, out var session))
            {
                session.Send(message);
            }
        }
        if (_state.Tasks.Remove(url.Id, out var swarm))
        {
            foreach (var member in swarm.Members.Values)
            {
                _scheduling.ReleaseParents(swarm, member);
                _state.MarkLeft(member.Session, url.Id);
            }
        }
        BrokerLog.UrlTaskFailed(_logger, url.Id, error);
        Report(url, UrlTaskPhase.Failed, error);
        Forget(url, "it failed");
    }

    private HashSet<string> Broadcast(string digest, SchedulerEvent message)
    {
        var told = new HashSet<string>(StringComparer.Ordinal);
        if (_state.Tasks.TryGetValue(digest, out var swarm))
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
        _sources.Progress?.Forget(url.Id);
        SetSource(url, null);
        _urlTasks.Remove(url.Id);
        foreach (var key in url.Keys)
        {
            _keys.Remove(key, url.Id);
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

    /// <summary>The timer: waiting tasks are looked at again, idle ones forgotten, sourced ones checked for lost pieces.</summary>
    public void OnTick()
    {
        var now = _time.GetUtcNow();
        foreach (var url in _urlTasks.Values.ToList())
        {
            if (!_urlTasks.ContainsKey(url.Id))
            {
                continue; // forgotten by an earlier one in this loop
            }
            _state.Tasks.TryGetValue(url.Id, out var swarm);
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
}
