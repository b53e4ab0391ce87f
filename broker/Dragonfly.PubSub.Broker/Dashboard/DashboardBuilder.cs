using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Hosting;
using Dragonfly.PubSub.Broker.Preheat;
using Dragonfly.PubSub.Broker.Security;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>
/// Builds the dashboard's view from the swarm's snapshot, the activity record, the fleet registry, the
/// catalogue and the preheat jobs. Everything is bounded (agents, tasks, members, edges listed), so one
/// build costs the same whether 10 or 10,000 agents are connected, up to the snapshot itself; the cache
/// in front (<see cref="DashboardCache"/>) makes it at most one build per second per selected task.
/// </summary>
internal sealed class DashboardBuilder(
    SwarmCoordinator coordinator, ManifestCatalogue catalogue, PreheatService preheat, BoundPorts ports, TrafficHistory history, TimeProvider time)
{
    public const int MaxAgents = 500;
    public const int MaxTasks = 50;
    public const int MaxMembers = 500;
    public const int MaxEdges = 2000;
    public const int MaxTopics = 200;
    public const int MaxSubscriberIds = 20;
    private static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan StoredRefresh = TimeSpan.FromSeconds(10);

    private readonly Lock _gate = new();
    private readonly DateTimeOffset _startedAt = time.GetUtcNow();
    private readonly Dictionary<string, Queue<(DateTimeOffset At, long Bytes)>> _rates = new(StringComparer.Ordinal);
    private (DateTimeOffset At, IReadOnlyList<Manifest> All)? _stored;

    public static string Version { get; } =
        typeof(DashboardBuilder).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion ?? "";

    /// <param name="selected">The task whose swarm is listed in full; null: the most recently active live task.</param>
    public async Task<DashboardView> BuildAsync(string? selected, CancellationToken cancellationToken)
    {
        var snapshot = await coordinator.SnapshotAsync(cancellationToken).ConfigureAwait(false);
        var jobs = preheat.List();
        lock (_gate)
        {
            var now = time.GetUtcNow();
            var stored = Stored(now, snapshot);
            var tasks = Tasks(snapshot, stored, now);
            selected ??= tasks.FirstOrDefault(t => t.Live)?.Digest ?? tasks.FirstOrDefault()?.Digest;
            return new DashboardView(
                now,
                new BrokerView(coordinator.BrokerId, Version, ports.Tls, snapshot.Peers, snapshot.TaskPeers.Count, _startedAt),
                Fleet(snapshot),
                Topics(stored),
                tasks,
                selected is null ? null : Swarm(selected, snapshot, now),
                Traffic(),
                coordinator.Activity.Failures.View(),
                [.. jobs.Take(20).Select(Preheat)]);
        }
    }

    /// <summary>One task's swarm in full (GET /api/v1/tasks/{digest}/swarm); null when the broker knows nothing of it.</summary>
    public async Task<SwarmView?> BuildSwarmAsync(string digest, CancellationToken cancellationToken)
    {
        var snapshot = await coordinator.SnapshotAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            return Swarm(digest, snapshot, time.GetUtcNow());
        }
    }

    private IReadOnlyList<Manifest> Stored(DateTimeOffset now, SwarmSnapshot snapshot)
    {
        // The catalogue reads every manifest from LiteDB: read it every few seconds (a list that changes on publish
        // only), and at once when a live swarm's task is not in it (just published: its publisher joined).
        if (_stored is not { } cached || now - cached.At >= StoredRefresh
            || snapshot.TaskPeers.Keys.Any(d => snapshot.UrlTask(d) is null && !cached.All.Any(m => m.Digest == d)))
        {
            _stored = cached = (now, catalogue.All());
        }
        return cached.All;
    }

    private FleetView Fleet(SwarmSnapshot snapshot)
    {
        var taskCount = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var peers in snapshot.TaskPeers.Values)
        {
            foreach (var peer in peers)
            {
                taskCount[peer.PeerId] = taskCount.GetValueOrDefault(peer.PeerId) + 1;
            }
        }
        var agents = coordinator.Fleet.Agents();
        var groups = agents
            .GroupBy(a => (a.Cluster, a.Zone))
            .OrderBy(g => g.Key.Cluster, StringComparer.Ordinal).ThenBy(g => g.Key.Zone, StringComparer.Ordinal)
            .Select(g => new FleetGroupView(g.Key.Cluster, g.Key.Zone, g.Count(a => a.Session is not null), g.Count(a => a.Session is null),
                g.Where(a => a.Session is not null).GroupBy(a => a.Version.Length == 0 ? "unknown" : a.Version)
                    .OrderBy(v => v.Key, StringComparer.Ordinal).ToDictionary(v => v.Key, v => v.Count(), StringComparer.Ordinal)))
            .ToList();
        var listed = agents.Take(MaxAgents).Select(a => new AgentView(
            a.PeerId, a.Host, a.Cluster, a.Zone, a.Version, a.Seed, a.Session is not null, a.ConnectedAt, a.SeenAt,
            a.Subscriptions, taskCount.GetValueOrDefault(a.PeerId))).ToList();
        var online = agents.Count(a => a.Session is not null);
        return new FleetView(online, agents.Count - online, groups, listed, agents.Count - listed.Count);
    }

    private List<TopicView> Topics(IReadOnlyList<Manifest> stored)
    {
        var subscribers = coordinator.Fleet.Agents().Where(a => a.Session is not null && a.Subscriptions.Count > 0).ToList();
        var images = catalogue.LatestImageAnnouncements();
        var names = stored.Select(m => m.Topic).Concat(images.Select(i => i.Topic)).Where(t => t.Length > 0).Distinct(StringComparer.Ordinal);
        var topics = new List<TopicView>();
        foreach (var topic in names.Order(StringComparer.Ordinal).Take(MaxTopics))
        {
            var published = stored.Where(m => m.Topic == topic).ToList();
            var latest = published.MaxBy(m => m.CreatedAtUnixMs);
            var image = images.FirstOrDefault(i => i.Topic == topic);
            var matching = subscribers.Where(a => a.Subscriptions.Any(filter => TopicGrants.Covers(filter, topic))).Select(a => a.PeerId).ToList();
            var latestAt = latest is null ? (DateTimeOffset?)null : DateTimeOffset.FromUnixTimeMilliseconds(latest.CreatedAtUnixMs);
            if (image is not null && (latestAt is null || image.CreatedAt > latestAt))
            {
                topics.Add(new TopicView(topic, published.Count + 1, image.Name, image.Digest, image.Size, image.CreatedAt,
                    matching.Count, [.. matching.Take(MaxSubscriberIds)]));
                continue;
            }
            topics.Add(new TopicView(topic, published.Count + (image is null ? 0 : 1), latest?.Name, latest?.Digest, latest?.Size ?? 0, latestAt,
                matching.Count, [.. matching.Take(MaxSubscriberIds)]));
        }
        return topics;
    }

    private List<TaskView> Tasks(SwarmSnapshot snapshot, IReadOnlyList<Manifest> stored, DateTimeOffset now)
    {
        var activity = coordinator.Activity.Tasks.ToDictionary(t => t.Digest, StringComparer.Ordinal);
        var digests = snapshot.TaskPeers.Keys
            .Concat((snapshot.UrlTasks ?? []).Select(u => u.Digest))
            .Concat(activity.Values.OrderByDescending(a => a.LastActivity).Select(a => a.Digest))
            .Concat(stored.Select(m => m.Digest))
            .Distinct(StringComparer.Ordinal);
        var views = new List<TaskView>();
        foreach (var digest in digests)
        {
            if (views.Count >= MaxTasks)
            {
                break;
            }
            var manifest = snapshot.UrlTask(digest) ?? catalogue.Find(digest);
            if (manifest is null)
            {
                continue;
            }
            var peers = snapshot.PeersOf(digest);
            var record = activity.GetValueOrDefault(digest);
            var figures = Figures(record);
            var ordinary = peers.Where(p => !p.Publisher).ToList();
            var progress = ordinary.Count == 0 ? (peers.Count > 0 ? 1 : 0) : ordinary.Average(p => p.TotalPieces == 0 ? 1 : (double)p.CompletedPieces / p.TotalPieces);
            views.Add(new TaskView(digest, manifest.Name, manifest.Topic, manifest.Size, manifest.PieceDigests.Count, manifest.UrlTask,
                DateTimeOffset.FromUnixTimeMilliseconds(manifest.CreatedAtUnixMs), peers.Count > 0, peers.Count, peers.Count(p => p.Seeder),
                progress, Rate(digest, figures.Moved, now), figures.Delivered, figures.Origin, figures.Saved, figures.Failures));
        }
        // Forget the rates of tasks no longer listed.
        foreach (var gone in _rates.Keys.Where(d => views.All(v => v.Digest != d)).ToList())
        {
            _rates.Remove(gone);
        }
        return [.. views.OrderByDescending(v => v.Live).ThenByDescending(v => activity.GetValueOrDefault(v.Digest)?.LastActivity ?? v.CreatedAt)];
    }

    private SwarmView? Swarm(string digest, SwarmSnapshot snapshot, DateTimeOffset now)
    {
        var manifest = snapshot.UrlTask(digest) ?? catalogue.Find(digest);
        var record = coordinator.Activity.Find(digest);
        if (manifest is null && record is null)
        {
            return null;
        }
        var live = snapshot.PeersOf(digest).ToDictionary(p => p.PeerId, StringComparer.Ordinal);
        var pieceCount = manifest?.PieceDigests.Count ?? record!.Layout.PieceCount;
        var members = new List<SwarmMemberView>();
        var edges = new List<SwarmEdgeView>();
        var figures = Figures(record);
        Dictionary<string, int> failures = [];
        var unlisted = 0;
        if (record is not null)
        {
            lock (record.Gate)
            {
                foreach (var m in record.Members.Values.OrderByDescending(m => m.Publisher).ThenBy(m => m.JoinedAt).Take(MaxMembers))
                {
                    var peer = live.GetValueOrDefault(m.PeerId);
                    var held = peer?.CompletedPieces ?? m.Held;
                    members.Add(new SwarmMemberView(m.PeerId, peer?.Host ?? "", peer?.Cluster ?? "", peer?.Zone ?? "", m.Publisher, peer is not null,
                        held, pieceCount, pieceCount == 0 ? 1 : (double)held / pieceCount, m.ReceivedBytes, m.ServedBytes, m.SourcedBytes,
                        m.JoinedAt, m.CompletedAt, m.LeftAt,
                        m.CompletedAt is { } done && m.HeldAtJoin < pieceCount ? (done - m.JoinedAt).TotalSeconds : null,
                        peer?.Parents ?? []));
                }
                unlisted = record.Unlisted + Math.Max(0, record.Members.Count - MaxMembers);
                edges.AddRange(record.Edges.OrderByDescending(e => e.Value).Take(MaxEdges).Select(e => new SwarmEdgeView(e.Key.Parent, e.Key.Child, e.Value)));
                failures = new Dictionary<string, int>(record.Failures, StringComparer.Ordinal);
            }
        }
        // Members the activity record does not know (it started after they joined): as the scheduler sees them.
        foreach (var peer in live.Values.Where(p => members.All(m => m.PeerId != p.PeerId)).Take(Math.Max(0, MaxMembers - members.Count)))
        {
            members.Add(new SwarmMemberView(peer.PeerId, peer.Host, peer.Cluster, peer.Zone, peer.Publisher, true, peer.CompletedPieces, peer.TotalPieces,
                peer.TotalPieces == 0 ? 1 : (double)peer.CompletedPieces / peer.TotalPieces, 0, 0, 0, now, null, null, null, peer.Parents));
        }
        var announcedAt = manifest is null ? record!.FirstSeen : DateTimeOffset.FromUnixTimeMilliseconds(manifest.CreatedAtUnixMs);
        return new SwarmView(digest, manifest?.Name ?? "", manifest?.Topic ?? "", manifest?.Size ?? record!.Layout.Size, pieceCount,
            manifest?.UrlTask ?? record!.UrlTask, announcedAt, Rate(digest, figures.Moved, now),
            figures.Delivered, figures.FromPeers, figures.FromPublisher, figures.Unattributed, figures.Sourced, figures.Origin, figures.Saved,
            failures, members, edges, unlisted);
    }

    private TrafficView Traffic()
    {
        var totals = coordinator.Activity.Totals();
        return new TrafficView(totals.Delivered, totals.FromPeers, totals.FromPublishers, totals.Unattributed, totals.Sourced,
            totals.Origin, totals.Demand, totals.Saved, TrafficHistory.Offload(totals), (int)TrafficHistory.Step.TotalSeconds, history.Samples());
    }

    private PreheatView Preheat(PreheatJob job)
    {
        var blobs = new List<PreheatBlobView>(job.Blobs.Count);
        foreach (var blob in job.Blobs)
        {
            var record = coordinator.Activity.Find(blob.Digest);
            long sourced = 0;
            int members = 0, complete = 0;
            if (record is not null)
            {
                lock (record.Gate)
                {
                    sourced = record.SourcedBytes;
                    members = record.Members.Values.Count(m => m.LeftAt is null);
                    complete = record.Members.Values.Count(m => m.LeftAt is null && m.CompletedAt is not null);
                }
            }
            var progress = blob.State == PreheatStates.Succeeded ? 1 : blob.Size <= 0 ? 0 : Math.Min(1, (double)sourced / blob.Size);
            blobs.Add(new PreheatBlobView(blob.Digest, blob.Size, blob.MediaType, blob.State, blob.Error, progress, members, complete));
        }
        return new PreheatView(job.Id, job.Image, job.Topic, job.State, job.Error, job.CreatedAt, job.Platforms, blobs);
    }

    /// <summary>Bytes per second over the last <see cref="RateWindow"/> of builds (0 until two builds a second apart saw the task).</summary>
    private double Rate(string digest, long moved, DateTimeOffset now)
    {
        if (!_rates.TryGetValue(digest, out var samples))
        {
            _rates[digest] = samples = new Queue<(DateTimeOffset, long)>();
        }
        if (samples.Count == 0 || now - samples.Last().At >= TimeSpan.FromMilliseconds(500))
        {
            samples.Enqueue((now, moved));
        }
        while (samples.Count > 2 && now - samples.Peek().At > RateWindow)
        {
            samples.Dequeue();
        }
        var (at, bytes) = samples.Peek();
        var seconds = (now - at).TotalSeconds;
        return seconds < 1 ? 0 : Math.Max(0, moved - bytes) / seconds;
    }

    private static TaskFigures Figures(TaskActivity? record)
    {
        if (record is null)
        {
            return default;
        }
        lock (record.Gate)
        {
            // A member's own origin fetch is a copy it got; a seed's (publisher-flagged) serves the fleet.
            var sourcedByMembers = record.Members.Values.Where(m => !m.Publisher).Sum(m => m.SourcedBytes);
            var origin = record.UrlTask ? record.SourcedBytes : record.FromPublisherBytes;
            var demand = record.DeliveredBytes + sourcedByMembers;
            return new TaskFigures(record.DeliveredBytes, record.FromPeerBytes, record.FromPublisherBytes, record.UnattributedBytes,
                record.SourcedBytes, origin, Math.Max(0, demand - origin), record.DeliveredBytes + record.SourcedBytes,
                record.Failures.Values.Sum());
        }
    }

    private readonly record struct TaskFigures(
        long Delivered, long FromPeers, long FromPublisher, long Unattributed, long Sourced, long Origin, long Saved, long Moved, int Failures);
}
