namespace Dragonfly.PubSub.Agent.Cache;

/// <summary>
/// Least recently used eviction over the content store's files, as a pure function so it can be
/// tested without a disk. Only files the agent holds alone count and can go: a file hard-linked to
/// an output path or a published file shares its bytes with it, so removing the store's name
/// would free nothing (those bytes are the user's file). Pinned files (a task in progress, a
/// download request waiting, a file not yet recorded) never go.
/// </summary>
internal static class EvictionPolicy
{
    public const string SharedReason = "shares its bytes with an output or a published file (hard link): evicting it would free nothing";

    /// <param name="items">Every stored file with its last use and pin.</param>
    /// <param name="cacheSize">Bytes the agent may hold alone (0 = evict all it can); null = no limit.</param>
    /// <param name="wantedFree">Free bytes wanted on the filesystem (the floor plus what stalled downloads still need); 0 = none.</param>
    /// <param name="freeBytes">Free bytes on the filesystem now.</param>
    public static EvictionPlan Plan(IReadOnlyList<CacheItem> items, long? cacheSize, long wantedFree, long freeBytes)
    {
        ArgumentNullException.ThrowIfNull(items);
        var pinned = new List<CacheItem>();
        var candidates = new List<CacheItem>();
        long cacheBytes = 0;
        foreach (var item in items)
        {
            if (!item.File.OwnedByAgent)
            {
                pinned.Add(item with { PinnedBecause = item.PinnedBecause ?? SharedReason });
                continue;
            }
            cacheBytes += item.File.Bytes;
            (item.PinnedBecause is null ? candidates : pinned).Add(item);
        }
        var overSize = cacheSize is { } size ? Math.Max(0, cacheBytes - size) : 0;
        var underFree = wantedFree > 0 ? Math.Max(0, wantedFree - freeBytes) : 0;
        var toFree = Math.Max(overSize, underFree);
        var evict = new List<CacheItem>();
        long freed = 0;
        // Oldest use first; on a tie, a partial download (pieces of a failed task) before complete content.
        foreach (var item in candidates
            .OrderBy(i => i.LastUsed)
            .ThenByDescending(i => i.File.Partial)
            .ThenBy(i => i.File.Digest.Hex, StringComparer.Ordinal))
        {
            if (freed >= toFree)
            {
                break;
            }
            evict.Add(item);
            freed += item.File.Bytes;
        }
        return new EvictionPlan(cacheBytes, toFree, evict, pinned);
    }
}
