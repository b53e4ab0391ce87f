using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Registry.Client;

/// <summary>What a HEAD on a manifest tells without a body (nothing here is verified).</summary>
public sealed record ManifestHead(ContentDigest? Digest, string? MediaType, long? Size);
