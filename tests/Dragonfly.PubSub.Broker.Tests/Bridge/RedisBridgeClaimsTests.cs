using Dragonfly.PubSub.Broker.Bridge;
using Dragonfly.PubSub.Broker.State;
using Dragonfly.PubSub.Testing;

namespace Dragonfly.PubSub.Broker.Tests.Bridge;

/// <summary>
/// Several brokers of one cluster given <c>--bridge-from</c> share the imports through a real Redis: the first to
/// claim a file imports it, the others wait and then skip it; a claim given up, or not renewed by a broker that
/// died, is taken over.
/// </summary>
public sealed class RedisBridgeClaimsTests : IAsyncLifetime
{
    private const string Digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public Task DisposeAsync()
    {
        _redis.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task FirstClaimImports_OthersAreBusyWhileItRuns_ThenSeeItImported()
    {
        using var stateA = Connect();
        using var stateB = Connect();
        var a = new RedisBridgeClaims(stateA, "broker-a");
        var b = new RedisBridgeClaims(stateB, "broker-b");

        Assert.Equal(BridgeClaimState.Mine, (await a.ClaimAsync(Digest, default)).State);
        var busy = await b.ClaimAsync(Digest, default);
        Assert.Equal(new BridgeClaim(BridgeClaimState.Busy, "broker-a"), busy);
        Assert.True(await a.RenewAsync(Digest, default));
        Assert.False(await b.RenewAsync(Digest, default), "b holds no claim to renew");

        await a.CompleteAsync(Digest, "sha256:local", default);

        Assert.Equal(new BridgeClaim(BridgeClaimState.Imported, "broker-a", "sha256:local"), await b.ClaimAsync(Digest, default));
        Assert.Equal(BridgeClaimState.Imported, (await a.ClaimAsync(Digest, default)).State);
        Assert.Equal(BridgeClaimState.Mine, (await b.ClaimAsync(Digest.Replace('1', '2'), default)).State);
    }

    [Fact]
    public async Task ClaimGivenUp_OrNotRenewed_IsTakenOverByAnotherBroker()
    {
        using var stateA = Connect();
        using var stateB = Connect();
        // Only b's claim must lapse: a keeps the default 30 s lease, so a slow machine cannot let a's claim lapse
        // between its claim and its renewal below (CI saw exactly that with 1 s for both).
        var a = new RedisBridgeClaims(stateA, "broker-a");
        var b = new RedisBridgeClaims(stateB, "broker-b") { Lease = TimeSpan.FromSeconds(1) };

        // Given up (its import failed): the next broker to look takes it at once.
        Assert.Equal(BridgeClaimState.Mine, (await a.ClaimAsync(Digest, default)).State);
        await a.ReleaseAsync(Digest);
        Assert.Equal(BridgeClaimState.Mine, (await b.ClaimAsync(Digest, default)).State);

        // b dies without renewing: its claim lapses after the lease, and a takes it over; b's late renewal fails.
        Assert.Equal(BridgeClaimState.Busy, (await a.ClaimAsync(Digest, default)).State);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await a.ClaimAsync(Digest, default)).State != BridgeClaimState.Mine)
        {
            Assert.True(DateTime.UtcNow < deadline, "b's claim (1 s lease) did not lapse within 10 s");
            await Task.Delay(100);
        }
        Assert.False(await b.RenewAsync(Digest, default));
        Assert.True(await a.RenewAsync(Digest, default));
    }

    private RedisState Connect() => RedisState.Connect(StateUrl.TryParse(_redis.Url, out _)!, TimeSpan.FromSeconds(5));
}
