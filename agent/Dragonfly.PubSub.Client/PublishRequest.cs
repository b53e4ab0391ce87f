namespace Dragonfly.PubSub.Client;

/// <summary>Publish a local file: the agent imports it, becomes its first seed and announces it on <see cref="Topic"/>.</summary>
public sealed record PublishRequest
{
    /// <summary>Absolute path of the file, readable by the agent.</summary>
    public required string Path { get; init; }
    public required string Topic { get; init; }
    /// <summary>The name subscribers store it under; defaults to the file name.</summary>
    public string? Name { get; init; }
    public Dictionary<string, string> Labels { get; init; } = [];
    /// <summary>Bytes per piece; null = 4 MiB, larger for very large files.</summary>
    public int? PieceSize { get; init; }
}
