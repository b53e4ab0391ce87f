using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Registry.Mirror;

/// <summary>
/// A blob the mirror needs: which registry and repository asked for it, its digest (the swarm's
/// task id), its upstream URL, and the Authorization value to fetch that URL with (null: none).
/// <see cref="Authorization"/> is a secret of the client that pulls: hand it only to the one that
/// fetches from the registry (the seed), never to peers, logs or announcements.
/// </summary>
public sealed record BlobRequest(string Registry, string Repository, ContentDigest Digest, Uri Url, string? Authorization)
{
    /// <summary>Safe to log: no Authorization value.</summary>
    public override string ToString() => $"{Registry}/{Repository}@{Digest}";
}
