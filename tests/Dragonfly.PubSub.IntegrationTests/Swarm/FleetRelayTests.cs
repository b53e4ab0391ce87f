using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Swarm;

/// <summary>
/// Several brokers on one Redis (<c>--state</c>) and no external MQTT broker (issue 12): their embedded MQTT
/// servers relay announcements to each other over Redis, so agents subscribed at different brokers all get a
/// file, whichever broker announced it.
/// </summary>
public sealed class FleetRelayTests(ITestOutputHelper output)
{
    private const string Topic = "releases/relayed";

    [Fact]
    public Task TwoBrokersOnRedisWithEmbeddedMqtt_SubscribersAtEachBroker_AllGetEveryFile() => TestCluster.RunAsync(output, async cluster =>
    {
        var redis = cluster.Own(await RedisServer.StartAsync());
        var first = await cluster.StartBrokerAsync(extraArgs: ["--state", redis.Url]);
        List<string> secondArgs = ["--state", redis.Url];
        if (!TlsMode.Insecure)
        {
            secondArgs.AddRange(["--tls-ca", Path.Combine(first.DataDir, "tls", "ca.crt"), "--tls-ca-key", Path.Combine(first.DataDir, "tls", "ca.key")]);
        }
        var second = await BrokerProcess.StartAsync(cluster.Launcher, Path.Combine(cluster.Root, "broker2"), name: "broker2", extraArgs: secondArgs);
        second.Fleet = first.Fleet;
        var brokers = new[] { first, second };
        Assert.True(first.Ports.Mqtt > 0 && second.Ports.Mqtt > 0, "without --mqtt-url each broker opens its embedded MQTT listener");
        await SeveralBrokers.WaitForFleetAsync(brokers, 2, TimeSpan.FromSeconds(20));

        // Every agent schedules at both brokers (placement by hash); each subscriber's MQTT is a different broker.
        var agentArgs = SeveralBrokers.AgentArgs(brokers);
        var publisher = await cluster.StartAgentAsync("pub", extraArgs: agentArgs, broker: first.Ports);
        var atFirst = await cluster.StartAgentAsync("sub-at-1", [Topic], agentArgs, broker: first.Ports);
        var atSecond = await cluster.StartAgentAsync("sub-at-2", [Topic], agentArgs, broker: second.Ports);

        // Several files: their digests hash to either broker, so announcements come from both.
        for (var i = 1; i <= 4; i++)
        {
            var file = await cluster.CreateFileAsync($"relayed-{i}.bin", 1 * MiB + i, seed: 700 + i);
            await cluster.PublishAsync(publisher, file, Topic);
            await cluster.WaitForFileOnAllAsync([atFirst, atSecond], Topic, file);
        }
        var announcedBy = brokers.Select(b => b.Process.LinesWhere(l => l.Contains("announced sha256:", StringComparison.Ordinal)).Count).ToList();
        cluster.Log($"announcements made per broker: {string.Join(", ", announcedBy)}");
    }, TimeSpan.FromMinutes(4));
}
