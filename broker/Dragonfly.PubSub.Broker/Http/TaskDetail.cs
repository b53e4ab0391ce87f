using Dragonfly.PubSub.Broker.Swarm;

namespace Dragonfly.PubSub.Broker.Http;

/// <summary><c>GET /api/v1/tasks/{digest}</c>: the summary fields plus the swarm's peers.</summary>
public sealed record TaskDetail(
    string Digest,
    string Name,
    string Topic,
    long Size,
    int PieceSize,
    int PieceCount,
    string Publisher,
    DateTimeOffset CreatedAt,
    IReadOnlyDictionary<string, string> Labels,
    IReadOnlyList<SwarmPeerView> Peers,
    int Seeders,
    bool UrlTask = false,
    string? ContentDigest = null);
