namespace Dragonfly.PubSub.Broker.Http;

/// <summary>One element of <c>GET /api/v1/tasks</c>.</summary>
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
    string? ContentDigest = null);
