namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>One element of the agent's <c>GET /api/v1/tasks</c>.</summary>
public sealed record AgentTask(
    string Digest,
    string? Name,
    string? Topic,
    string State,
    long Size,
    int CompletedPieces,
    int TotalPieces,
    long BytesFromPeers,
    long BytesFromSource,
    string? Path,
    string? Error = null,
    string? ErrorKind = null)
{
    public override string ToString() =>
        $"{Digest[..Math.Min(Digest.Length, 19)]}… {Name} {State} {CompletedPieces}/{TotalPieces} peers={BytesFromPeers} source={BytesFromSource}{(Error is null ? "" : " error: " + Error)}";
}
