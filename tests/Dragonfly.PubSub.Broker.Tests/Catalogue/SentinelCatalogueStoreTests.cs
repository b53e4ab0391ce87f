using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.State;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;

namespace Dragonfly.PubSub.Broker.Tests.Catalogue;

/// <summary>
/// <c>--state redis-sentinel://…/SERVICE</c>: two brokers' catalogues on a real Redis primary, replica and three
/// Sentinels. The primary is SIGKILLed; the Sentinels promote the replica, both connections follow, and the
/// catalogue and sequence numbers written before the failover are there after it.
/// </summary>
public sealed class SentinelCatalogueStoreTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "dfbroker-sentinel-" + Guid.NewGuid().ToString("N"));
    private readonly DateTimeOffset _now = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private RedisSentinelGroup _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisSentinelGroup.StartAsync();

    public Task DisposeAsync()
    {
        _redis.Dispose();
        TempDirectory.Delete(_dir);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task PrimaryKilled_SentinelsPromoteTheReplica_BothBrokersFollow_NothingLost()
    {
        var url = StateUrl.TryParse(_redis.Url, out var error) ?? throw new InvalidOperationException(error);
        using var stateA = RedisState.Connect(url, TimeSpan.FromSeconds(5));
        using var stateB = RedisState.Connect(url, TimeSpan.FromSeconds(5));
        using var a = new ManifestCatalogue(Path.Combine(_dir, "a"), _ => new RedisCatalogueStore(stateA));
        using var b = new ManifestCatalogue(Path.Combine(_dir, "b"), _ => new RedisCatalogueStore(stateB));
        Assert.Equal(_redis.Primary.Port, ConnectedPrimaryPort(stateA));
        var v1 = TestManifests.Create("v1", 2);
        a.Store(v1, _now, out var first);
        await WaitForReplicaAsync(stateA);

        var took = await _redis.KillPrimaryAndAwaitFailoverAsync(TimeSpan.FromSeconds(60));
        output.WriteLine($"Sentinels promoted the replica {took.TotalSeconds:0.0} s after the primary was killed");

        // Writes go on through the promoted replica, from both brokers; what was written before is there.
        var v2 = TestManifests.Create("v2", 3);
        v2.Name = v1.Name;
        var writing = System.Diagnostics.Stopwatch.StartNew();
        var second = await RetryAsync<long>(() => { b.Store(v2, _now, out var s); return s; });
        var third = await RetryAsync<long>(() => { a.StoreAnnounced(v1, _now, out var s); return s; });
        output.WriteLine($"the writes after it took {writing.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(_redis.Replica.Port, ConnectedPrimaryPort(stateA));
        Assert.Equal(_redis.Replica.Port, ConnectedPrimaryPort(stateB));
        Assert.Equal(v1, b.Find(v1.Digest));
        Assert.Equal(new[] { first + 1, first + 2 }, new[] { second, third });
        Assert.Equal(third, b.LastSequence(v1.Topic, v1.Name));
        Assert.Equal(2, a.All().Count);
        Assert.True(a.IsHealthy() && b.IsHealthy());
    }

    // Replication is asynchronous: the test waits for it as an operator's "WAIT 1" would, so that what it
    // checks after the failover is the client following Sentinel, not the (documented) last-second window.
    private static async Task WaitForReplicaAsync(RedisState state) =>
        Assert.Equal(1L, (long)await state.Database.ExecuteAsync("WAIT", 1, 5000));

    private static int ConnectedPrimaryPort(RedisState state) =>
        state.Connection.GetServers().Where(s => s.IsConnected && !s.IsReplica)
            .Select(s => ((System.Net.IPEndPoint)s.EndPoint).Port).Single();

    // A command racing the switch may fail once; a broker's callers retry (heartbeats) or answer an error.
    private static async Task<T> RetryAsync<T>(Func<T> write)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return write();
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException && attempt < 20)
            {
                await Task.Delay(500);
            }
        }
    }
}
