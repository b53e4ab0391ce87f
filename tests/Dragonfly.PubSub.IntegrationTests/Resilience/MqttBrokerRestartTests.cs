using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Resilience;

/// <summary>
/// The MQTT broker that dfbroker announces into (<c>--mqtt-url</c>, a real Mosquitto with persistence as
/// README "Several brokers" configures it) is SIGKILLed and restarted on the same port and data (issue 12):
/// dfbroker and the agents reconnect by themselves, an announcement made while it is down and one made after
/// it is back reach every subscriber, the agents' persistent sessions survive (a QoS 1 announcement queued
/// for an agent that was away is delivered when it comes back), and an agent that subscribes for the first
/// time after the restart still gets the earlier retained announcement. The MQTT leg is plain text in both
/// test modes, as in <see cref="Swarm.ExternalMqttTests"/>.
/// </summary>
public sealed class MqttBrokerRestartTests(ITestOutputHelper output)
{
    private const string Topic = "releases/mqtt-restart";
    private const string LateTopic = "releases/mqtt-restart-late";

    [Fact]
    public Task MosquittoKilledAndRestarted_EveryoneReconnects_AnnouncementsRetainedAndSessionsSurvive() => TestCluster.RunAsync(output, async cluster =>
    {
        var mosquitto = cluster.Own(await MosquittoServer.StartPersistentAsync());
        var broker = await cluster.StartBrokerAsync(extraArgs: ["--mqtt-url", mosquitto.Url]);
        var publisher = await cluster.StartAgentAsync("pub");
        var stays = await cluster.StartAgentAsync("stays", [Topic]);
        var away = await cluster.StartAgentAsync("away", [Topic]);
        await Task.WhenAll(WaitForMqttConnectionsAsync(stays, 1), WaitForMqttConnectionsAsync(away, 1));

        // Before: one file reaches both; another is retained on a topic nobody subscribes to yet.
        var before = await cluster.CreateFileAsync("before.bin", 2 * MiB + 11, seed: 501);
        await cluster.PublishAsync(publisher, before, Topic);
        await cluster.WaitForFileOnAllAsync([stays, away], Topic, before);
        var early = await cluster.CreateFileAsync("early.bin", 1 * MiB + 7, seed: 502);
        await cluster.PublishAsync(publisher, early, LateTopic);

        // 'away' goes; its session (clean start off, 7-day expiry) stays in Mosquitto and queues what follows.
        await away.Process.KillAsync();
        var queued = await cluster.CreateFileAsync("queued.bin", 2 * MiB + 13, seed: 503);
        var published = DateTime.UtcNow;
        await cluster.PublishAsync(publisher, queued, Topic);
        await stays.WaitForFileAsync(stays.OutputPathOf(Topic, queued.Name), queued, TestCluster.TransferTimeout);
        await WaitUntilSavedAsync(mosquitto, published);

        cluster.AllowErrorLogs("Mosquitto is killed on purpose; dfbroker and the agents log that they lost it");
        mosquitto.Kill();
        cluster.Log("mosquitto killed");
        // Announced while Mosquitto is down: dfbroker holds the publish until it is back.
        var during = await cluster.CreateFileAsync("during.bin", 2 * MiB + 17, seed: 504);
        var publishDuring = cluster.PublishAsync(publisher, during, Topic);
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(publishDuring.IsCompleted, "dfpub should wait while the MQTT broker is down, not report the announcement made");
        await mosquitto.RestartAsync();
        cluster.Log("mosquitto restarted");
        await publishDuring;

        await Wait.UntilAsync("dfbroker to reconnect to Mosquitto and publish the retained announcements again", TimeSpan.FromSeconds(30),
            () => Task.FromResult(broker.Process.LinesWhere(l => l.Contains("reconnected to the MQTT broker at " + mosquitto.Url, StringComparison.Ordinal)).Count > 0));
        // The agent that stayed reconnects by itself, into the session Mosquitto kept on disk.
        await WaitForMqttConnectionsAsync(stays, 2);
        Assert.True(SessionKeptOnLastConnection(stays), $"stays should find its session kept after the restart:\n{stays.Process.Tail(20)}");
        await stays.WaitForFileAsync(stays.OutputPathOf(Topic, during.Name), during, TestCluster.TransferTimeout);

        // 'away' comes back: its session still holds queued.bin (published while it was away, before the
        // restart), which the retained message (during.bin, the topic's latest) alone could not give it.
        away = await cluster.RestartAgentAsync(away);
        await WaitForMqttConnectionsAsync(away, 1);
        Assert.True(SessionKeptOnLastConnection(away), $"away should find its persistent session after the restart:\n{away.Process.Tail(20)}");
        await away.WaitForFileAsync(away.OutputPathOf(Topic, queued.Name), queued, TestCluster.TransferTimeout);
        await away.WaitForFileAsync(away.OutputPathOf(Topic, during.Name), during, TestCluster.TransferTimeout);

        // Announced after the restart: reaches both.
        var after = await cluster.CreateFileAsync("after.bin", 2 * MiB + 19, seed: 505);
        await cluster.PublishAsync(publisher, after, Topic);
        await cluster.WaitForFileOnAllAsync([stays, away], Topic, after);

        // A first-time subscriber after the restart still gets the retained announcement made before it.
        var late = await cluster.StartAgentAsync("late", [LateTopic]);
        await late.WaitForFileAsync(late.OutputPathOf(LateTopic, early.Name), early, TestCluster.TransferTimeout);
    }, TimeSpan.FromMinutes(4));

    private static IReadOnlyList<string> MqttConnections(AgentProcess agent) =>
        agent.Process.LinesWhere(l => l.Contains("connected to MQTT ", StringComparison.Ordinal));

    private static bool SessionKeptOnLastConnection(AgentProcess agent) =>
        MqttConnections(agent)[^1].Contains("session kept: True", StringComparison.Ordinal);

    private static Task WaitForMqttConnectionsAsync(AgentProcess agent, int count) =>
        Wait.UntilAsync($"{agent.Name} to connect to MQTT {count} time(s)", TimeSpan.FromSeconds(30),
            () => Task.FromResult(MqttConnections(agent).Count >= count), describe: () => agent.Process.Tail(10));

    /// <summary>Mosquitto wrote its database after <paramref name="since"/> (it saves after every change; a SIGKILL loses only the unsaved).</summary>
    private static Task WaitUntilSavedAsync(MosquittoServer mosquitto, DateTime since) =>
        Wait.UntilAsync($"Mosquitto to save {mosquitto.DatabaseFile}", TimeSpan.FromSeconds(10),
            () => Task.FromResult(File.Exists(mosquitto.DatabaseFile) && File.GetLastWriteTimeUtc(mosquitto.DatabaseFile) > since));
}
