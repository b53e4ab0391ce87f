namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>A consistent copy of the swarm state, for the HTTP API and the dashboard.</summary>
public sealed record SwarmSnapshot(int Peers, IReadOnlyDictionary<string, IReadOnlyList<SwarmPeerView>> TaskPeers)
{
    public IReadOnlyList<SwarmPeerView> PeersOf(string digest) =>
        TaskPeers.TryGetValue(digest, out var peers) ? peers : [];
}
