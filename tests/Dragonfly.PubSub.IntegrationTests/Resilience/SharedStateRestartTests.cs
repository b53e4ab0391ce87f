using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Resilience;

/// <summary>
/// The Redis several brokers share restarts under them (issue 12): SIGKILLed and started again (append-only
/// file on), nothing in the catalogue is lost, the fleet finds itself again and sequence numbers go on.
/// </summary>
public sealed class SharedStateRestartTests(ITestOutputHelper output)
{
    private const string Topic = "releases/restarts";

    [Fact]
    public Task RedisKilledAndRestarted_BrokersKeepTheCatalogue_AndAnnouncementsGoOn() => TestCluster.RunAsync(output, async cluster =>
    {
        var redis = cluster.Own(await RedisServer.StartAsync());
        var mosquitto = cluster.Own(await MosquittoServer.StartAsync());
        var brokers = await SeveralBrokers.StartAsync(cluster, 2, redis.Url, mosquitto.Url);
        await SeveralBrokers.WaitForFleetAsync(brokers, 2, TimeSpan.FromSeconds(20));
        var agentArgs = SeveralBrokers.AgentArgs(brokers);
        var publisher = await cluster.StartAgentAsync("pub", extraArgs: agentArgs);
        var subscriber = await cluster.StartAgentAsync("sub", [Topic], agentArgs);
        var first = await cluster.CreateFileAsync("first.bin", 3 * MiB + 5, seed: 401);
        await cluster.PublishAsync(publisher, first, Topic);
        await subscriber.WaitForFileAsync(subscriber.OutputPathOf(Topic, first.Name), first, TestCluster.TransferTimeout);

        cluster.AllowErrorLogs("Redis is killed on purpose; the brokers log that they lost it");
        redis.Kill();
        cluster.Log("redis killed");
        await Task.Delay(TimeSpan.FromSeconds(1));
        await redis.RestartAsync();
        cluster.Log("redis restarted");
        // Heartbeats resume, and the catalogue (in Redis' append-only file) still has the first file.
        await SeveralBrokers.WaitForFleetAsync(brokers, 2, TimeSpan.FromSeconds(30));
        foreach (var broker in brokers)
        {
            Assert.Contains(first.Digest, await SeveralBrokers.ListedTasksAsync(broker));
            var manifest = await broker.GetManifestAsync(first.Digest);
            Assert.Equal(first.Size, manifest.Size);
        }

        // A second version after the restart: its sequence number must be above the first's (or the subscriber ignores it).
        var second = await cluster.CreateFileAsync("second.bin", 2 * MiB + 9, seed: 402);
        await cluster.PublishAsync(publisher, second, Topic);
        await subscriber.WaitForFileAsync(subscriber.OutputPathOf(Topic, second.Name), second, TestCluster.TransferTimeout);
    }, TimeSpan.FromMinutes(3));
}
