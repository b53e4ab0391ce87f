namespace Dragonfly.PubSub.Client;

/// <summary>
/// Publish on <see cref="Topic"/>: a local file (<see cref="Path"/>), which the agent imports and
/// seeds, or an object at <see cref="Url"/>, which the broker announces as a URL task that seed peers
/// fetch from its origin once for every subscriber.
/// </summary>
public sealed record PublishRequest
{
    /// <summary>Absolute path of the file, readable by the agent; null when publishing a <see cref="Url"/>.</summary>
    public string? Path { get; init; }
    public required string Topic { get; init; }
    /// <summary>The name subscribers store it under; defaults to the file name (or the URL's last path segment).</summary>
    public string? Name { get; init; }
    public Dictionary<string, string> Labels { get; init; } = [];
    /// <summary>Bytes per piece; null = 4 MiB, larger for very large files.</summary>
    public int? PieceSize { get; init; }

    /// <summary>http(s)://, ftp://, s3://bucket/key or file:// URL of the object to announce.</summary>
    public string? Url { get; init; }

    /// <summary>Headers passed to the origin, each <c>Name: value</c> (kept in memory only, never logged).</summary>
    public IReadOnlyList<string>? Headers { get; init; }

    /// <summary>Part of a URL task's id.</summary>
    public string? Tag { get; init; }

    /// <summary>Query parameters left out of a URL task's id, beyond the usual signed-URL ones.</summary>
    public IReadOnlyList<string>? FilterParams { get; init; }

    /// <summary>For a URL: the <c>sha256:&lt;hex&gt;</c> the whole file must hash to; null = any.</summary>
    public string? Digest { get; init; }
}
