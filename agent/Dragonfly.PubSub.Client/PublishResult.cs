namespace Dragonfly.PubSub.Client;

/// <summary>What was announced. For a URL, <see cref="Digest"/> is the task id.</summary>
public sealed record PublishResult(string Digest, string Name, long Size, string Topic, int PieceSize, int PieceCount)
{
    /// <summary>True for a URL task (fetched from its origin by a seed); null for a published file.</summary>
    public bool? UrlTask { get; init; }

    /// <summary>The sha256:&lt;hex&gt; of a URL task's content when already known (from --digest).</summary>
    public string? ContentDigest { get; init; }
}
