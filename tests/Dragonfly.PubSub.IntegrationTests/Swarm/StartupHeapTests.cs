using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Swarm;

/// <summary>
/// Issue 10: a dfagent daemon settles its start-up heap (one full, compacting collection) once start-up is done
/// and before it connects to MQTT, where a kept session delivers announcements at once, so that the first
/// collection of a fresh process does not land in its first task (AgentOptions.SettleHeapAfterStart).
/// </summary>
public sealed class StartupHeapTests(ITestOutputHelper output)
{
    private const string Settled = "start-up heap settled";
    private const string MqttConnected = "connected to MQTT";

    [Fact]
    public Task ADaemon_SettlesItsHeapOnce_BeforeItConnectsToMqtt() => TestCluster.RunAsync(output, async cluster =>
    {
        await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var subscriber = await cluster.StartAgentAsync("sub", ["releases/#"], ["--verbose"]);
        await Wait.UntilAsync("the subscriber's MQTT connection", TimeSpan.FromSeconds(30), () => Task.FromResult(
            subscriber.Process.LinesWhere(l => l.Contains(MqttConnected, StringComparison.Ordinal)).Count > 0));

        var lines = subscriber.Process.LinesWhere(l => l.Contains(Settled, StringComparison.Ordinal) || l.Contains(MqttConnected, StringComparison.Ordinal));
        cluster.Log(string.Join('\n', lines));
        Assert.Single(lines, l => l.Contains(Settled, StringComparison.Ordinal));
        Assert.Contains(Settled, lines[0], StringComparison.Ordinal);

        // Settled, it receives and lands what is announced as before.
        var file = await cluster.CreateFileAsync("app.bin", 2 * MiB, seed: 3001);
        await cluster.PublishAsync(publisher, file, "releases/app");
        await subscriber.WaitForFileAsync(subscriber.OutputPathOf("releases/app", file.Name), file, TestCluster.TransferTimeout);
    });
}
