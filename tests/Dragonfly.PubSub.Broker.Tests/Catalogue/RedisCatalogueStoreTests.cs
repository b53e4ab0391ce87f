using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.State;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Testing;

namespace Dragonfly.PubSub.Broker.Tests.Catalogue;

/// <summary>
/// <c>--state redis://…</c>: two brokers (two catalogues with their own data dirs) on one real Redis see the
/// same manifests and topics, and their sequence numbers grow across both.
/// </summary>
public sealed class RedisCatalogueStoreTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "dfbroker-redis-" + Guid.NewGuid().ToString("N"));
    private readonly DateTimeOffset _now = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public Task DisposeAsync()
    {
        _redis.Dispose();
        TempDirectory.Delete(_dir);
        return Task.CompletedTask;
    }

    [Fact]
    public void TwoBrokers_ShareManifestsAndTopics_AndSequenceNumbersGrowAcrossBoth()
    {
        using var stateA = Connect();
        using var stateB = Connect();
        using var a = new ManifestCatalogue(Path.Combine(_dir, "a"), _ => new RedisCatalogueStore(stateA));
        using var b = new ManifestCatalogue(Path.Combine(_dir, "b"), _ => new RedisCatalogueStore(stateB));
        var v1 = TestManifests.Create("v1", 2);
        var v2 = TestManifests.Create("v2", 3);
        v2.Name = v1.Name;

        var knownBefore = a.Store(v1, _now, out var first);
        b.Store(v2, _now, out var second);        // same topic and name, the other broker
        var knownAgain = b.Store(v1, _now, out var third);

        Assert.NotEqual(a.BrokerId, b.BrokerId);
        Assert.False(knownBefore);
        Assert.True(knownAgain, "b should know the manifest a stored");
        Assert.Equal(_now.ToUnixTimeMilliseconds(), first);
        Assert.Equal(new[] { first + 1, first + 2 }, new[] { second, third });
        Assert.Equal(third, a.LastSequence(v1.Topic, v1.Name));
        Assert.Equal(v2, a.Find(v2.Digest));
        Assert.Equal(2, b.All().Count);
        var latest = Assert.Single(a.LatestPerTopicSequenced());
        Assert.Equal((v1.Digest, third), (latest.Manifest.Digest, latest.Sequence));
        Assert.True(a.IsHealthy());
    }

    [Fact]
    public void SequenceNumbers_AreUniqueUnderConcurrentBrokers()
    {
        using var stateA = Connect();
        using var stateB = Connect();
        using var a = new ManifestCatalogue(Path.Combine(_dir, "a"), _ => new RedisCatalogueStore(stateA));
        using var b = new ManifestCatalogue(Path.Combine(_dir, "b"), _ => new RedisCatalogueStore(stateB));
        var manifest = TestManifests.Create("busy", 1);

        var numbers = new System.Collections.Concurrent.ConcurrentBag<long>();
        // Four at a time, two per broker: concurrent enough to race the Lua script, and not 200 blocking calls
        // that starve the thread pool (and time out) on a loaded 2-core machine.
        Parallel.For(0, 200, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var catalogue = i % 2 == 0 ? a : b;
            catalogue.StoreAnnounced(manifest, _now, out var sequence);
            numbers.Add(sequence);
        });

        Assert.Equal(200, numbers.Distinct().Count());
        Assert.Equal(numbers.Max(), a.LastSequence(manifest.Topic, manifest.Name));
        Assert.Equal(numbers.Max(), Assert.Single(b.LatestPerTopicSequenced()).Sequence);
    }

    [Fact]
    public void StoreSourced_CompletesTheAnnouncedUrlTask_ForTheOtherBroker()
    {
        using var stateA = Connect();
        using var stateB = Connect();
        using var a = new ManifestCatalogue(Path.Combine(_dir, "a"), _ => new RedisCatalogueStore(stateA));
        using var b = new ManifestCatalogue(Path.Combine(_dir, "b"), _ => new RedisCatalogueStore(stateB));
        var sourced = TestManifests.Create("url", 2);
        sourced.UrlTask = true;
        sourced.ContentDigest = ContentDigest.FromHash(new byte[32]).ToString();
        var announced = sourced.Clone();
        announced.PieceDigests.Clear();
        announced.ContentDigest = "";

        a.StoreAnnounced(announced, _now);
        Assert.Null(b.Find(sourced.Digest));
        b.StoreSourced(sourced, _now);

        Assert.Equal(sourced, a.Find(sourced.Digest));
        var latest = Assert.Single(a.LatestPerTopic());
        Assert.Equal(sourced.ContentDigest, latest.ContentDigest);
        Assert.Equal(sourced.PieceDigests, latest.PieceDigests);
    }

    [Fact]
    public void ImageAnnouncements_AreShared_WithTheirSequenceNumbers()
    {
        using var stateA = Connect();
        using var stateB = Connect();
        using var a = new ManifestCatalogue(Path.Combine(_dir, "a"), _ => new RedisCatalogueStore(stateA));
        using var b = new ManifestCatalogue(Path.Combine(_dir, "b"), _ => new RedisCatalogueStore(stateB));
        var image = ManifestCatalogueTests.TestImage("images/app", "sha256:" + new string('1', 64));

        var stored = a.StoreImageAnnouncement(image, _now);

        var shared = Assert.Single(b.LatestImageAnnouncements());
        Assert.Equal(stored.Sequence, shared.Sequence);
        Assert.Equal(image.Digest, shared.Digest);
        Assert.Empty(b.LatestPerTopic());
    }

    [Fact]
    public void Connect_WhenRedisDoesNotAnswer_Throws()
    {
        var closed = StateUrl.TryParse($"redis://127.0.0.1:{FreePort.Next()}", out _)!;
        Assert.ThrowsAny<StackExchange.Redis.RedisException>(() => RedisState.Connect(closed, TimeSpan.FromSeconds(1)));
    }

    private RedisState Connect() => RedisState.Connect(StateUrl.TryParse(_redis.Url, out _)!, TimeSpan.FromSeconds(5));
}
