namespace Dragonfly.PubSub.Broker.Preheat;

/// <summary>The image manifest of one chosen platform.</summary>
public sealed record PreheatManifest(string Digest, string Platform, string MediaType, long Size);
