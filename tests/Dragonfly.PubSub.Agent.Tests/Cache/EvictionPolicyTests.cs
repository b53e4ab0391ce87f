using Dragonfly.PubSub.Agent.Cache;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Storage;

namespace Dragonfly.PubSub.Agent.Tests.Cache;

public sealed class EvictionPolicyTests
{
    private const long MiB = 1 << 20;
    private static readonly DateTime T0 = new(2026, 12, 4, 5, 0, 0, DateTimeKind.Utc);

    [Fact]
    public void Plan_OverTheCacheSize_EvictsLeastRecentlyUsedUntilItFits()
    {
        var old = Item(1, 4 * MiB, T0);
        var middle = Item(2, 4 * MiB, T0.AddMinutes(1));
        var recent = Item(3, 4 * MiB, T0.AddMinutes(2));

        // Listed out of order: the policy sorts by last use, not by listing.
        var plan = EvictionPolicy.Plan([recent, old, middle], cacheSize: 5 * MiB, wantedFree: 0, freeBytes: long.MaxValue);

        Assert.Equal(12 * MiB, plan.CacheBytes);
        Assert.Equal(7 * MiB, plan.BytesToFree);
        Assert.Equal([old, middle], plan.Evict);
        Assert.False(plan.ShortOfSpace);
    }

    [Fact]
    public void Plan_WithinTheCacheSizeAndAboveTheFloor_EvictsNothing()
    {
        var plan = EvictionPolicy.Plan([Item(1, 4 * MiB, T0), Item(2, 4 * MiB, T0)], cacheSize: 8 * MiB, wantedFree: 10 * MiB, freeBytes: 10 * MiB);

        Assert.Empty(plan.Evict);
        Assert.Equal(0, plan.BytesToFree);
    }

    [Fact]
    public void Plan_NoLimits_EvictsNothing()
    {
        var plan = EvictionPolicy.Plan([Item(1, 4 * MiB, T0)], cacheSize: null, wantedFree: 0, freeBytes: 0);

        Assert.Empty(plan.Evict);
    }

    [Fact]
    public void Plan_BelowTheFreeSpaceFloor_EvictsUntilTheFloorIsMet()
    {
        var old = Item(1, 3 * MiB, T0);
        var middle = Item(2, 3 * MiB, T0.AddMinutes(1));
        var recent = Item(3, 3 * MiB, T0.AddMinutes(2));

        var plan = EvictionPolicy.Plan([old, middle, recent], cacheSize: null, wantedFree: 10 * MiB, freeBytes: 5 * MiB);

        Assert.Equal(5 * MiB, plan.BytesToFree);
        Assert.Equal([old, middle], plan.Evict);
    }

    [Fact]
    public void Plan_ACacheSizeOfZero_EvictsEverythingUnpinned()
    {
        var a = Item(1, 1 * MiB, T0);
        var b = Item(2, 1 * MiB, T0.AddMinutes(1));
        var running = Item(3, 1 * MiB, T0, partial: true, pin: "task in progress");

        var plan = EvictionPolicy.Plan([b, running, a], cacheSize: 0, wantedFree: 0, freeBytes: long.MaxValue);

        Assert.Equal([a, b], plan.Evict);
        Assert.Equal([running], plan.Pinned);
    }

    [Fact]
    public void Plan_NeverEvictsPinnedFiles_AndSaysWhenTheLimitCannotBeMet()
    {
        var inProgress = Item(1, 8 * MiB, T0, partial: true, pin: "task in progress");
        var waited = Item(2, 8 * MiB, T0.AddMinutes(1), pin: "a download request waits on it");
        var free = Item(3, 1 * MiB, T0.AddMinutes(5));

        var plan = EvictionPolicy.Plan([inProgress, waited, free], cacheSize: 1, wantedFree: 0, freeBytes: long.MaxValue);

        Assert.Equal([free], plan.Evict);
        Assert.Equal([inProgress, waited], plan.Pinned);
        Assert.True(plan.ShortOfSpace);
    }

    [Fact]
    public void Plan_FilesSharedWithAnOutput_NeitherCountNorGo()
    {
        // Two links: the output path holds the same bytes, removing the store's name frees nothing.
        var shared = Item(1, 100 * MiB, T0, links: 2);
        var own = Item(2, 2 * MiB, T0.AddMinutes(1));

        var plan = EvictionPolicy.Plan([shared, own], cacheSize: 1 * MiB, wantedFree: 0, freeBytes: long.MaxValue);

        Assert.Equal(2 * MiB, plan.CacheBytes);
        Assert.Equal([own], plan.Evict);
        var kept = Assert.Single(plan.Pinned);
        Assert.Equal(shared.File, kept.File);
        Assert.Equal(EvictionPolicy.SharedReason, kept.PinnedBecause);
    }

    [Fact]
    public void Plan_PartialFilesCountAtTheirAllocatedSize()
    {
        // A failed download's sparse partial file holds 1 MiB of verified pieces.
        var failedPartial = Item(1, 1 * MiB, T0, partial: true);
        var content = Item(2, 4 * MiB, T0.AddMinutes(1));

        var plan = EvictionPolicy.Plan([failedPartial, content], cacheSize: 4 * MiB, wantedFree: 0, freeBytes: long.MaxValue);

        Assert.Equal(5 * MiB, plan.CacheBytes);
        Assert.Equal([failedPartial], plan.Evict);
    }

    private static CacheItem Item(int id, long bytes, DateTime lastUsed, bool partial = false, int links = 1, string? pin = null)
    {
        var digest = ContentDigest.Parse($"sha256:{id:x64}");
        var file = new StoredFile(digest, partial, $"/data/{(partial ? "partial" : "content/sha256")}/{digest.Hex}", bytes, links, lastUsed);
        return new CacheItem(file, $"file-{id}", "releases/app", lastUsed, pin);
    }
}
