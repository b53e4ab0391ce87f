namespace Dragonfly.PubSub.Origins;

/// <summary>What an origin says about an object before any of its bytes are fetched.</summary>
public sealed record OriginObject
{
    public required Uri Url { get; init; }

    /// <summary>Total size in bytes, or null when the origin does not say (chunked HTTP, FTP without SIZE).</summary>
    public long? Size { get; init; }

    /// <summary>
    /// True when the origin serves byte ranges, so pieces can be fetched in any order and in parallel.
    /// When false, <see cref="IOrigin.OpenRangeAsync"/> still returns the right bytes but by reading and
    /// discarding everything before the offset: fetch such objects sequentially.
    /// </summary>
    public bool SupportsRanges { get; init; }

    /// <summary>The entity tag (quotes included, as sent), when the origin has one.</summary>
    public string? ETag { get; init; }

    public DateTimeOffset? LastModified { get; init; }

    public string? ContentType { get; init; }
}
