namespace Dragonfly.PubSub.Client;

/// <summary>Download a task by content id through the swarm into <see cref="Output"/> (written atomically).</summary>
public sealed record DownloadRequest
{
    /// <summary><c>sha256:&lt;hex&gt;</c>.</summary>
    public required string Digest { get; init; }
    /// <summary>Absolute path of the file to write.</summary>
    public required string Output { get; init; }
}
