namespace Dragonfly.PubSub.Broker.Dashboard;

// The JSON of GET /api/v1/dashboard and its parts (README "Dashboard"). Plain records, grouped here because
// they only make sense together; camelCase on the wire (BrokerDashboardJsonContext).

/// <summary>Everything the dashboard page shows, built at most once a second (<see cref="DashboardCache"/>).</summary>
internal sealed record DashboardView(
    DateTimeOffset GeneratedAt,
    BrokerView Broker,
    FleetView Fleet,
    IReadOnlyList<TopicView> Topics,
    IReadOnlyList<TaskView> Tasks,
    SwarmView? Swarm,
    TrafficView Traffic,
    FailuresView Failures,
    IReadOnlyList<PreheatView> Preheat);

internal sealed record BrokerView(string BrokerId, string Version, bool Tls, int Peers, int Tasks, DateTimeOffset StartedAt);

/// <param name="Agents">Online agents first, at most <see cref="DashboardBuilder.MaxAgents"/>; <paramref name="Unlisted"/> more are counted only.</param>
internal sealed record FleetView(int Online, int Offline, IReadOnlyList<FleetGroupView> Groups, IReadOnlyList<AgentView> Agents, int Unlisted);

/// <summary>Agents of one cluster and zone ("" = no label), and how many run each version.</summary>
internal sealed record FleetGroupView(string Cluster, string Zone, int Online, int Offline, IReadOnlyDictionary<string, int> Versions);

internal sealed record AgentView(
    string PeerId, string Host, string Cluster, string Zone, string Version, bool Seed, bool Online,
    DateTimeOffset ConnectedAt, DateTimeOffset LastSeen, IReadOnlyList<string> Subscriptions, int Tasks);

/// <summary>A topic: what was announced on it and which online agents subscribe to it (their --subscribe filters match it).</summary>
internal sealed record TopicView(
    string Topic, int Announcements, string? LatestName, string? LatestDigest, long LatestSize, DateTimeOffset? LatestAt,
    int Subscribers, IReadOnlyList<string> SubscriberIds);

/// <summary>One task in the task list: live (members now) or recently active or stored.</summary>
internal sealed record TaskView(
    string Digest, string Name, string Topic, long Size, int PieceCount, bool UrlTask, DateTimeOffset CreatedAt, bool Live,
    int Members, int Complete, double Progress, double BytesPerSecond, long DeliveredBytes, long OriginBytes, long SavedBytes, int Failures);

/// <summary>One task's swarm in full: every member (up to <see cref="DashboardBuilder.MaxMembers"/>) and who served whom.</summary>
internal sealed record SwarmView(
    string Digest, string Name, string Topic, long Size, int PieceCount, bool UrlTask, DateTimeOffset AnnouncedAt,
    double BytesPerSecond, long DeliveredBytes, long FromPeerBytes, long FromPublisherBytes, long UnattributedBytes,
    long SourcedBytes, long OriginBytes, long SavedBytes, IReadOnlyDictionary<string, int> Failures,
    IReadOnlyList<SwarmMemberView> Members, IReadOnlyList<SwarmEdgeView> Edges, int Unlisted);

/// <param name="Seconds">From joining to holding every piece; null while it does not (or it held them all at once).</param>
/// <param name="Parents">Its current parent set (who the scheduler told it to fetch from).</param>
internal sealed record SwarmMemberView(
    string PeerId, string Host, string Cluster, string Zone, bool Publisher, bool Member, int Held, int PieceCount, double Progress,
    long ReceivedBytes, long ServedBytes, long SourcedBytes, DateTimeOffset JoinedAt, DateTimeOffset? CompletedAt, DateTimeOffset? LeftAt,
    double? Seconds, IReadOnlyList<string> Parents);

/// <summary><paramref name="From"/> served <paramref name="Bytes"/> of the task to <paramref name="To"/>.</summary>
internal sealed record SwarmEdgeView(string From, string To, long Bytes);

/// <summary>Totals since the broker started, the rates of the latest step, and the last hour's steps.</summary>
internal sealed record TrafficView(
    long DeliveredBytes, long FromPeerBytes, long FromPublisherBytes, long UnattributedBytes, long SourcedBytes,
    long OriginBytes, long DemandBytes, long SavedBytes, double Offload, int StepSeconds, IReadOnlyList<TrafficSample> History);

/// <summary>One step of the charts: copies delivered per second, origin bytes per second, the offload share, sessions.</summary>
internal sealed record TrafficSample(DateTimeOffset At, double DeliveredBytesPerSecond, double OriginBytesPerSecond, double Offload, int Peers);

internal sealed record FailuresView(IReadOnlyDictionary<string, long> ByKind, IReadOnlyList<FailureView> Recent);

internal sealed record FailureView(DateTimeOffset At, string Kind, string Task, string Peer, string Parent, string Detail);

/// <summary>A preheat job (GET /api/v1/preheat/{id} has it in full) with each blob's progress.</summary>
internal sealed record PreheatView(
    string Id, string Image, string Topic, string State, string? Error, DateTimeOffset CreatedAt, IReadOnlyList<string> Platforms,
    IReadOnlyList<PreheatBlobView> Blobs);

/// <param name="Progress">The share of the blob its source fetched from the registry (1 once it succeeded).</param>
/// <param name="Members">Agents in the blob's swarm now; <paramref name="Complete"/> of them hold all of it.</param>
internal sealed record PreheatBlobView(string Digest, long Size, string MediaType, string State, string? Error, double Progress, int Members, int Complete);
