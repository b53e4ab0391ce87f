namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>One peer of one task at the time of a snapshot.</summary>
public sealed record SwarmPeerView(
    string PeerId,
    string Host,
    int Port,
    string Cluster,
    string Zone,
    bool Publisher,
    int CompletedPieces,
    int TotalPieces,
    IReadOnlyList<string> Parents,
    int Children)
{
    public bool Seeder => CompletedPieces == TotalPieces;
}
