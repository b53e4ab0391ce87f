namespace Dragonfly.PubSub.Agent.Cache;

/// <summary>What the eviction policy decided for one collection.</summary>
/// <param name="CacheBytes">Bytes only the agent holds (the files it owns alone), before evicting.</param>
/// <param name="BytesToFree">What the limits ask to free: above the cache size, or below the wanted free space.</param>
/// <param name="Evict">The files to remove, least recently used first.</param>
/// <param name="Pinned">Files kept whatever their age, each with the reason.</param>
internal sealed record EvictionPlan(long CacheBytes, long BytesToFree, IReadOnlyList<CacheItem> Evict, IReadOnlyList<CacheItem> Pinned)
{
    public long EvictBytes => Evict.Sum(i => i.File.Bytes);

    /// <summary>The limits cannot be met by evicting: too much is pinned.</summary>
    public bool ShortOfSpace => EvictBytes < BytesToFree;
}
