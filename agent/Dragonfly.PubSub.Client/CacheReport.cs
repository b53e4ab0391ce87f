namespace Dragonfly.PubSub.Client;

/// <summary>
/// What a garbage collection of the agent's cache found and did (<c>POST /api/v1/gc</c>,
/// <c>dfagent gc</c>): the cache before and after, and each stored file evicted (or, in a dry run,
/// that would be).
/// </summary>
public sealed record CacheReport
{
    /// <summary>True when nothing was removed: <see cref="Evicted"/> lists what would go.</summary>
    public bool DryRun { get; init; }

    /// <summary>Bytes only the agent's content store holds, before the collection.</summary>
    public long CacheBytes { get; init; }

    /// <summary>The cache size kept to (<c>--cache-size</c>, or the request's); null = no limit.</summary>
    public long? CacheLimit { get; init; }

    /// <summary>The free-space floor in bytes on the data dir's filesystem (<c>--min-free</c>); 0 = none.</summary>
    public long MinFree { get; init; }

    /// <summary>Bytes free on the data dir's filesystem before the collection.</summary>
    public long FreeBytes { get; init; }

    /// <summary>Bytes the limits asked to free; more than the evicted bytes when too much is pinned.</summary>
    public long BytesToFree { get; init; }

    public IReadOnlyList<CacheEviction> Evicted { get; init; } = [];

    /// <summary>Stored files kept however old: in progress, waited on, or sharing their bytes with an output.</summary>
    public IReadOnlyList<CacheEviction> Pinned { get; init; } = [];
}
