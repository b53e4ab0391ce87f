namespace Dragonfly.PubSub.Client;

/// <summary>
/// Download through the swarm into <see cref="Output"/> (written atomically: the file appears only
/// complete and verified). Either by content id (<see cref="Digest"/>) or by <see cref="Url"/>, in
/// which case the object is fetched from its origin once per swarm (by a seed, or by one agent) and
/// <see cref="Digest"/>, when set, is what the whole file must hash to.
/// </summary>
public sealed record DownloadRequest
{
    /// <summary>
    /// Without <see cref="Url"/>: the content id <c>sha256:&lt;hex&gt;</c> to download. With a URL:
    /// the expected <c>sha256:&lt;hex&gt;</c> of the whole file (<c>--digest</c>), or null for any.
    /// </summary>
    public string? Digest { get; init; }

    /// <summary>Absolute path of the file to write.</summary>
    public required string Output { get; init; }

    /// <summary>http(s)://, ftp://, s3://bucket/key or file:// URL of the object; null = download <see cref="Digest"/>.</summary>
    public string? Url { get; init; }

    /// <summary>Headers passed to the origin, each <c>Name: value</c> (kept in memory only, never logged).</summary>
    public IReadOnlyList<string>? Headers { get; init; }

    /// <summary>Part of the task id: the same URL with different tags is a different task.</summary>
    public string? Tag { get; init; }

    /// <summary>Query parameters left out of the task id, beyond the usual signed-URL ones.</summary>
    public IReadOnlyList<string>? FilterParams { get; init; }

    /// <summary>Bytes per piece of a URL task; null = the default for its size.</summary>
    public int? PieceSize { get; init; }

    /// <summary>Download rate cap for this task in bytes per second; null = the agent's own limit only.</summary>
    public long? Limit { get; init; }
}
