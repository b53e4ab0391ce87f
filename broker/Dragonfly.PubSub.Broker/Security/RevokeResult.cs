namespace Dragonfly.PubSub.Broker.Security;

/// <summary>What a revocation did: whether the token or peer was known, and the peer ids now revoked.</summary>
public sealed record RevokeResult(bool Found, IReadOnlyList<string> RevokedPeers);
