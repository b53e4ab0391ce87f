using System.Globalization;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Security;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>
/// Issue 11, attack 6 and "a subscriber outside its filters", on real processes: a valid fleet member
/// may neither write announcements on MQTT nor read announcements outside the topics of its certificate.
/// </summary>
public sealed class MqttPermissionTests(ITestOutputHelper output)
{
    private const string Topic = "releases/app";

    [Fact]
    public Task RetainedFakeAnnouncement_FromAValidAgentCertificate_IsDropped_AndTheHonestPublishLands() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: MQTT has no identities, nothing is enforced (README, Security model)");
            return;
        }
        var broker = await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var subscriber = await cluster.StartAgentAsync("sub", ["releases/#"]);
        var old = await cluster.CreateFileAsync("old.bin", 2 * MiB, seed: 1101);
        await cluster.PublishAsync(publisher, old, Topic);
        await subscriber.WaitForFileAsync(subscriber.OutputPathOf(Topic, old.Name), old, TestCluster.TransferTimeout);

        // An enrolled agent (a machine of the fleet taken over) replays the old digest under a new name,
        // dated 2099 so that it would win over every later version, retained for every later subscriber;
        // then tries to wipe the topic with an empty retained message.
        var attacker = await EnrolAsync(cluster, broker, "attacker", "agent");
        var layout = new PieceLayout(old.Size, PieceLayout.DefaultPieceSize);
        var fake = new Announcement
        {
            Digest = old.Digest, Name = "evil.bin", Size = old.Size, PieceSize = layout.PieceSize, PieceCount = layout.PieceCount,
            Topic = Topic, CreatedAt = new DateTimeOffset(2099, 1, 1, 0, 0, 0, TimeSpan.Zero),
        };
        var before = await DeniedAsync(broker);
        var forged = await MosquittoAsync("/usr/bin/mosquitto_pub", broker, attacker,
            ["-V", "mqttv5", "-q", "1", "-r", "-t", TopicName.ToMqttTopic(Topic), "-m", System.Text.Encoding.UTF8.GetString(fake.ToJsonUtf8())]);
        var wipe = await MosquittoAsync("/usr/bin/mosquitto_pub", broker, attacker, ["-V", "mqttv5", "-q", "1", "-r", "-n", "-t", TopicName.ToMqttTopic(Topic)]);
        cluster.Log($"forged announcement: exit {forged.ExitCode} {forged.Stderr.Trim()}; wipe: exit {wipe.ExitCode} {wipe.Stderr.Trim()}");

        // MQTT still retains the broker's announcement of old.bin: neither the forgery nor the wipe took.
        var retained = await MosquittoAsync("/usr/bin/mosquitto_sub", broker, attacker, ["-t", TopicName.ToMqttTopic(Topic), "-C", "1", "-W", "5"]);
        var kept = Announcement.TryParse(System.Text.Encoding.UTF8.GetBytes(retained.Stdout.Trim()), out var error);
        Assert.True(kept is not null, $"the retained announcement should be the broker's: {error}\n{retained}");
        Assert.Equal((old.Digest, old.Name, false), (kept.Digest, kept.Name, kept.CreatedAt.Year == 2099));

        // The honest publish beside it still lands, and nothing else does.
        var fresh = await cluster.CreateFileAsync("new.bin", 3 * MiB, seed: 1102);
        await cluster.PublishAsync(publisher, fresh, Topic);
        await subscriber.WaitForFileAsync(subscriber.OutputPathOf(Topic, fresh.Name), fresh, TestCluster.TransferTimeout);
        Assert.False(File.Exists(subscriber.OutputPathOf(Topic, "evil.bin")), "the forged announcement reached the subscriber's output directory");
        Assert.Equal(["new.bin", "old.bin"], Directory.EnumerateFiles(Path.Combine(subscriber.OutputDir, Topic)).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.True(await DeniedAsync(broker) >= before + 2, "the broker should count both refused publishes in dragonfly_broker_permission_denied_total{listener=\"mqtt\"}");
    });

    [Fact]
    public Task SubscriberOutsideTheTopicsOfItsCertificate_GetsNoAnnouncement() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: MQTT has no identities, nothing is enforced (README, Security model)");
            return;
        }
        var broker = await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var cleared = await cluster.StartAgentAsync("cleared", ["secret/#"]);
        // Granted releases/# only, it asks for secret/# as well.
        var narrowToken = await TestFleet.CreateTokenAsync(cluster, broker, "agent", 2, "--topics", "releases/#");
        var narrow = await cluster.StartAgentAsync("narrow", ["releases/#", "secret/#"], ["--join-token", narrowToken]);
        var peeker = await EnrolAsync(cluster, broker, "peeker", "agent", "--topics", "releases/#");

        var plan = await cluster.CreateFileAsync("plan.bin", 2 * MiB, seed: 1103);
        var release = await cluster.CreateFileAsync("release.bin", 2 * MiB, seed: 1104);
        await cluster.PublishAsync(publisher, plan, "secret/plan");
        await cluster.PublishAsync(publisher, release, Topic);
        await cleared.WaitForFileAsync(cleared.OutputPathOf("secret/plan", plan.Name), plan, TestCluster.TransferTimeout);
        await narrow.WaitForFileAsync(narrow.OutputPathOf(Topic, release.Name), release, TestCluster.TransferTimeout);

        // mosquitto_sub with the narrow certificate: the retained secret announcement is not delivered,
        // by an exact filter, a wildcard above it, or everything.
        foreach (var filter in new[] { "dragonfly/announce/secret/plan", "dragonfly/announce/#", "#" })
        {
            var peek = await MosquittoAsync("/usr/bin/mosquitto_sub", broker, peeker, ["-V", "mqttv5", "-t", filter, "-C", "1", "-W", "4"]);
            cluster.Log($"peek at {filter}: exit {peek.ExitCode} {peek.Stderr.Trim()}");
            Assert.True(peek.Stdout.Length == 0, $"a certificate granted releases/# read {filter}:\n{peek}");
        }
        var allowed = await MosquittoAsync("/usr/bin/mosquitto_sub", broker, peeker, ["-V", "mqttv5", "-t", "dragonfly/announce/releases/#", "-C", "1", "-W", "10"]);
        Assert.Contains(release.Digest, allowed.Stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(narrow.OutputDir, "secret")), "the narrow agent wrote a file of a topic its certificate does not grant");
        // ... and its operator is told why.
        Assert.True(narrow.Process.LinesWhere(l => l.Contains("refused the subscription to dragonfly/announce/secret/#", StringComparison.Ordinal)).Any(),
            "the narrow agent should log that the broker refused its subscription to secret/#");
    });

    /// <summary>A fleet identity enrolled with a token of <paramref name="role"/>, its files in <c>&lt;root&gt;/&lt;name&gt;-tls</c>.</summary>
    private static async Task<(EnrolledCertificate Peer, string Dir)> EnrolAsync(TestCluster cluster, BrokerProcess broker, string name, string role, params string[] tokenArgs)
    {
        var text = await TestFleet.CreateTokenAsync(cluster, broker, role, 1, tokenArgs);
        Assert.True(JoinToken.TryParse(text, out var token, out var error), error);
        var peer = await EnrolmentClient.EnrollAsync("127.0.0.1", broker.Ports.Http, token, CancellationToken.None);
        var dir = Path.Combine(cluster.Root, name + "-tls");
        peer.WriteTo(dir);
        return (peer, dir);
    }

    private static Task<CliResult> MosquittoAsync(string tool, BrokerProcess broker, (EnrolledCertificate Peer, string Dir) who, IReadOnlyList<string> args) =>
        Infrastructure.Cli.RunAsync(tool,
            ["-h", "127.0.0.1", "-p", broker.Ports.Mqtt.ToString(CultureInfo.InvariantCulture),
             "--cafile", Path.Combine(who.Dir, TlsFiles.CaCertificate), "--cert", Path.Combine(who.Dir, TlsFiles.AgentCertificate),
             "--key", Path.Combine(who.Dir, TlsFiles.AgentKey), "-i", who.Peer.PeerId, .. args],
            TimeSpan.FromSeconds(30));

    private static async Task<double> DeniedAsync(BrokerProcess broker) =>
        (await broker.GetMetricsAsync()).Find("dragonfly_broker_permission_denied_total", ("listener", "mqtt")) ?? 0;
}
