namespace Dragonfly.PubSub.Broker.Http;

/// <summary>
/// One element of <c>GET /api/v1/tasks</c>. <paramref name="Peers"/> and <paramref name="Seeders"/> count the
/// whole fleet (with shared state, the other brokers' members too); <paramref name="LocalPeers"/> only the
/// members of this broker's swarm (the broker a task lives on has them).
/// </summary>
public sealed record TaskSummary(
    string Digest,
    string Name,
    string Topic,
    long Size,
    int PieceSize,
    int PieceCount,
    string Publisher,
    DateTimeOffset CreatedAt,
    int Peers,
    int Seeders,
    bool UrlTask = false,
    string? ContentDigest = null,
    int LocalPeers = 0);
