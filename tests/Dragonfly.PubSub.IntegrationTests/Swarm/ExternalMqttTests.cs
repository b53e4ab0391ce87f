using System.Text;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Testing;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Swarm;

/// <summary>
/// <c>dfbroker --mqtt-url</c>: announcements go into an MQTT 5 broker the operator runs (a real Mosquitto
/// here) instead of the embedded server, and agents, told so in the scheduler's Welcome, subscribe there.
/// The MQTT leg is plain text in both test modes (in the TLS mode gRPC and the peer ports stay TLS): a
/// Mosquitto with a certificate from the fleet CA is the production set-up the README describes.
/// </summary>
public sealed class ExternalMqttTests(ITestOutputHelper output)
{
    private const string Topic = "releases/mosquitto";

    [Fact]
    public Task Publish_WithBrokerOnMosquitto_ReachesTwoSubscribers_AndIsRetainedInMosquitto() => TestCluster.RunAsync(output, async cluster =>
    {
        var mosquitto = cluster.Own(await MosquittoServer.StartAsync());
        var broker = await cluster.StartBrokerAsync(extraArgs: ["--mqtt-url", mosquitto.Url]);
        Assert.True(broker.Info.MqttPort == 0 && broker.Info.MqttsPort == 0,
            $"with --mqtt-url dfbroker should open no MQTT listener of its own, broker.json says {broker.Info}");
        var publisher = await cluster.StartAgentAsync("pub");
        var subscribers = await cluster.StartAgentsAsync("sub", 2, [Topic]);
        var file = await cluster.CreateFileAsync("via-mosquitto.bin", 6 * MiB + 123, seed: 371);

        await cluster.PublishAsync(publisher, file, Topic);
        await cluster.WaitForFileOnAllAsync(subscribers, Topic, file);

        // The announcement is in Mosquitto, retained: a plain mosquitto_sub sees it.
        var retained = await ProcessRunner.RunAsync("/usr/bin/mosquitto_sub",
            ["-V", "mqttv5", "-h", "127.0.0.1", "-p", mosquitto.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "-t", TopicName.ToMqttTopic(Topic), "-C", "1", "-W", "10"], timeout: TimeSpan.FromSeconds(20));
        var announcement = Announcement.TryParse(Encoding.UTF8.GetBytes(retained.Stdout.Trim()), out var error);
        Assert.True(announcement is not null, $"Mosquitto should retain the broker's announcement on {TopicName.ToMqttTopic(Topic)}: {error}\n{retained.Output}");
        Assert.Equal(file.Digest, announcement.Digest);
        foreach (var subscriber in subscribers)
        {
            Assert.True(subscriber.Process.LinesWhere(l => l.Contains(mosquitto.Url, StringComparison.Ordinal)).Any(),
                $"{subscriber.Name} should log that it subscribed at {mosquitto.Url}, the MQTT broker named in the Welcome");
        }
    });
}
