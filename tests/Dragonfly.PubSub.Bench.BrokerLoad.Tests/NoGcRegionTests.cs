using System.Runtime;
using Dragonfly.PubSub.Bench.BrokerLoad.Agents;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NoGcRegionCollection
{
    /// <summary>The no-GC region is the whole process's: these tests run alone, after the parallel ones.</summary>
    public const string Name = "no-gc-region";
}

/// <summary>The simulator's load phase allocates from memory set aside for it, without collections of its own.</summary>
[Collection(NoGcRegionCollection.Name)]
public sealed class NoGcRegionTests
{
    [Fact]
    public void WithinTheRegion_NothingIsCollected()
    {
        var region = NoGcRegion.TryStart(TimeSpan.FromSeconds(2));
        Assert.True(region.Bytes >= 64L << 20, $"only {region.Bytes} bytes set aside");
        var collections = GC.CollectionCount(0);

        var kept = Allocate(32L << 20);

        Assert.Equal(collections, GC.CollectionCount(0));
        Assert.Equal(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
        Assert.True(region.End());
        Assert.NotEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
        GC.KeepAlive(kept);
    }

    [Fact]
    public void AllocatingMoreThanSetAside_EndsAsExceeded()
    {
        var region = NoGcRegion.TryStart(TimeSpan.FromSeconds(1));
        Assert.True(region.Bytes > 0);

        var kept = Allocate(region.Bytes * 2);

        Assert.False(region.End());
        Assert.NotEqual(GCLatencyMode.NoGCRegion, GCSettings.LatencyMode);
        GC.KeepAlive(kept);
    }

    [Fact]
    public void ASecondRegion_IsRefused_AndTheFirstStillEnds()
    {
        var first = NoGcRegion.TryStart(TimeSpan.FromSeconds(1));
        var second = NoGcRegion.TryStart(TimeSpan.FromSeconds(1));

        Assert.Equal(0, second.Bytes);
        Assert.False(second.End());
        Assert.True(first.End());
    }

    private static List<byte[]> Allocate(long bytes)
    {
        var kept = new List<byte[]>();
        for (long total = 0; total < bytes; total += 16 * 1024)
        {
            kept.Add(new byte[16 * 1024]);
        }
        return kept;
    }
}
