using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Platforms;

namespace Dragonfly.PubSub.Registry.Manifests;

/// <summary>A content descriptor from a manifest or index: what a blob or a child manifest is.</summary>
public sealed record Descriptor(string MediaType, ContentDigest Digest, long Size, Platform? Platform = null);
