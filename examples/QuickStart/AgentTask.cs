namespace QuickStart;

/// <summary>One entry of an agent's <c>GET /api/v1/tasks</c>.</summary>
internal sealed record AgentTask(
    string Digest,
    string Name,
    string Topic,
    string State,
    long Size,
    int CompletedPieces,
    int TotalPieces,
    long BytesFromPeers,
    long BytesFromSource,
    string? Path);
