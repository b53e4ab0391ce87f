using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>A join token as the broker keeps it: what it grants and how often, never its secret (only a hash of it).</summary>
public sealed record TokenRecord(
    string Id, IReadOnlyList<PeerRole> Roles, IReadOnlyList<string> Topics, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, int Uses, int Used, bool Revoked);
