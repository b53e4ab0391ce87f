using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Broker.Swarm;

/// <summary>A consistent copy of the swarm state, for the HTTP API and the dashboard.</summary>
/// <param name="UrlTasks">Live URL tasks (their manifests as far as known), stored in the catalogue only once sourced.</param>
public sealed record SwarmSnapshot(
    int Peers,
    IReadOnlyDictionary<string, IReadOnlyList<SwarmPeerView>> TaskPeers,
    IReadOnlyList<Manifest>? UrlTasks = null)
{
    public IReadOnlyList<SwarmPeerView> PeersOf(string digest) =>
        TaskPeers.TryGetValue(digest, out var peers) ? peers : [];

    public Manifest? UrlTask(string digest) => UrlTasks?.FirstOrDefault(m => m.Digest == digest);
}
