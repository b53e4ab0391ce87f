namespace Dragonfly.PubSub.Client;

/// <summary>What was announced.</summary>
public sealed record PublishResult(string Digest, string Name, long Size, string Topic, int PieceSize, int PieceCount);
