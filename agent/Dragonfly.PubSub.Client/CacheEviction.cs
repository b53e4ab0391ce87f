namespace Dragonfly.PubSub.Client;

/// <summary>One stored file in a <see cref="CacheReport"/>: evicted (or would be), or pinned with the reason.</summary>
public sealed record CacheEviction
{
    /// <summary>The task id the file is named after (<c>sha256:&lt;hex&gt;</c>).</summary>
    public required string Digest { get; init; }

    /// <summary>The artifact's name when a task records it, else null (a file without a task).</summary>
    public string? Name { get; init; }

    public string? Topic { get; init; }

    /// <summary><c>content</c> (complete) or <c>partial</c> (a download's verified pieces).</summary>
    public required string Kind { get; init; }

    public long Bytes { get; init; }

    /// <summary>When it was last used (requested, placed, served to a peer), UTC.</summary>
    public DateTime LastUsed { get; init; }

    /// <summary>Why it is kept, for pinned files; null for evictions.</summary>
    public string? Reason { get; init; }
}
