using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.IntegrationTests.Infrastructure;
using Dragonfly.PubSub.Security;
using Xunit.Abstractions;
using static Dragonfly.PubSub.IntegrationTests.Infrastructure.Sizes;

namespace Dragonfly.PubSub.IntegrationTests.Security;

/// <summary>
/// Issue 11, signed announcements, on real processes: the broker numbers and signs every announcement;
/// an agent acts only on the broker's signature (secure mode) and never on an older sequence number than
/// the last it acted on for an output path, also after a restart. The attacker's path is a Mosquitto beside
/// the broker (<see cref="MqttRelay"/>, as an external MQTT broker would be) that the victim agent takes its
/// announcements from, while the broker's own MQTT lets no client publish.
/// </summary>
public sealed class SignedAnnouncementTests(ITestOutputHelper output)
{
    private const string Topic = "releases/app";
    private const string Name = "app.bin";

    [Fact]
    public Task CapturedOlderAnnouncement_ReplayedLater_DoesNotRollBackTheFile_AlsoAfterTheAgentRestarts() => TestCluster.RunAsync(output, async cluster =>
    {
        var broker = await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var relay = await MqttRelay.StartAsync(cluster, broker);
        var victim = await cluster.StartAgentAsync("victim", ["releases/#"], broker: relay.PortsFor(broker));
        var mqttTopic = TopicName.ToMqttTopic(Topic);
        var landed = victim.OutputPathOf(Topic, Name);

        // Two versions under one name; each announcement captured as the broker retains it.
        var v1 = await cluster.CreateFileAsync("v1.bin", 2 * MiB, seed: 1201);
        var v2 = await cluster.CreateFileAsync("v2.bin", 3 * MiB, seed: 1202);
        await cluster.PublishAsync(publisher, v1, Topic, "--name", Name);
        var captured1 = await MqttRelay.RetainedAtBrokerAsync(broker, mqttTopic, v1.Digest);
        await cluster.PublishAsync(publisher, v2, Topic, "--name", Name);
        var captured2 = await MqttRelay.RetainedAtBrokerAsync(broker, mqttTopic, v2.Digest);
        var (a1, a2) = (Parse(captured1), Parse(captured2));
        Assert.Equal((v1.Digest, v2.Digest), (a1.Digest, a2.Digest));
        Assert.True(a2.Sequence > a1.Sequence, $"the broker should number the second announcement of {Topic}/{Name} higher: {a1.Sequence} then {a2.Sequence}");
        Assert.Equal(!TlsMode.Insecure, a1.Signature is not null && a2.Signature is not null);

        // Delivered in order over the relay, both land, the newer last.
        await relay.PublishRetainedAsync(cluster, broker, mqttTopic, captured1);
        await victim.WaitForFileAsync(landed, v1, TestCluster.TransferTimeout);
        await relay.PublishRetainedAsync(cluster, broker, mqttTopic, captured2);
        await victim.WaitForFileAsync(landed, v2, TestCluster.TransferTimeout);

        // The captured v1 replayed later (and retained, for every later subscriber): ignored, counted, file kept.
        await relay.PublishRetainedAsync(cluster, broker, mqttTopic, captured1);
        await WaitForRejectedAsync(victim, "stale", 1);
        Assert.Equal(v2.Sha256Hex, await TestFile.HashAsync(landed));
        Assert.True(victim.Process.LinesWhere(l => l.Contains($"ignored stale announcement of {v1.Digest} for {Topic}/{Name}", StringComparison.Ordinal)).Any(),
            "the victim should log that it ignored the stale announcement");

        // Restarted, the agent gets the retained v1 again at once: it still remembers v2's sequence.
        await victim.Process.StopAsync();
        victim = await cluster.RestartAgentAsync(victim, broker: relay.PortsFor(broker));
        await WaitForRejectedAsync(victim, "stale", 1);
        Assert.Equal(v2.Sha256Hex, await TestFile.HashAsync(landed));

        // ... and still takes the next genuine version.
        var v3 = await cluster.CreateFileAsync("v3.bin", 1 * MiB, seed: 1203);
        await cluster.PublishAsync(publisher, v3, Topic, "--name", Name);
        await relay.PublishRetainedAsync(cluster, broker, mqttTopic, await MqttRelay.RetainedAtBrokerAsync(broker, mqttTopic, v3.Digest));
        await victim.WaitForFileAsync(landed, v3, TestCluster.TransferTimeout);
        Assert.Equal([Name], Directory.EnumerateFiles(Path.Combine(victim.OutputDir, Topic)).Select(Path.GetFileName));
    });

    [Fact]
    public Task TamperedUnsignedOrMemberSignedAnnouncements_AreRefused_AndTheGenuineOneLands() => TestCluster.RunAsync(output, async cluster =>
    {
        if (TlsMode.Insecure)
        {
            output.WriteLine("DFIT_INSECURE=1: announcements are not signed, there is no fleet CA to check a signature against (README, Security model)");
            return;
        }
        var broker = await cluster.StartBrokerAsync();
        var publisher = await cluster.StartAgentAsync("pub");
        var relay = await MqttRelay.StartAsync(cluster, broker);
        var victim = await cluster.StartAgentAsync("victim", ["releases/#"], broker: relay.PortsFor(broker));
        var mqttTopic = TopicName.ToMqttTopic(Topic);

        var old = await cluster.CreateFileAsync("old.bin", 2 * MiB, seed: 1211);
        var current = await cluster.CreateFileAsync("current.bin", 2 * MiB, seed: 1212);
        await cluster.PublishAsync(publisher, old, Topic, "--name", "old.bin");
        await cluster.PublishAsync(publisher, current, Topic, "--name", Name);
        var genuine = Parse(await MqttRelay.RetainedAtBrokerAsync(broker, mqttTopic, current.Digest));
        Assert.Equal(current.Digest, genuine.Digest);

        // 1. The genuine signature over another digest (the old content under the current name, far ahead in sequence).
        var tampered = genuine with { Digest = old.Digest, Size = old.Size, PieceCount = new PieceLayout(old.Size, genuine.PieceSize).PieceCount, Sequence = genuine.Sequence + 1000 };
        await relay.PublishRetainedAsync(cluster, broker, mqttTopic, Json(tampered));
        await WaitForRejectedAsync(victim, "bad_signature", 1);

        // 2. No signature at all.
        await relay.PublishRetainedAsync(cluster, broker, mqttTopic, Json(tampered with { Signer = null, Signature = null }));
        await WaitForRejectedAsync(victim, "unsigned", 1);

        // 3. Signed properly, but by a fleet member (the test's admin identity), not by the broker.
        using (var key = broker.Fleet!.Identity.Certificate.GetECDsaPrivateKey()!)
        {
            var memberSigned = tampered with
            {
                Signer = Convert.ToBase64String(broker.Fleet.Identity.Certificate.RawData),
                Signature = Convert.ToBase64String(key.SignData(AnnouncementSigning.BytesToSign(tampered), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)),
            };
            await relay.PublishRetainedAsync(cluster, broker, mqttTopic, Json(memberSigned));
        }
        await WaitForRejectedAsync(victim, "untrusted_signer", 1);
        Assert.False(File.Exists(victim.OutputPathOf(Topic, Name)), "a refused announcement reached the output directory");
        Assert.True(victim.Process.LinesWhere(l => l.Contains($"refused announcement on {Topic} (bad_signature)", StringComparison.Ordinal)).Any(),
            "the victim should log the refusal with its reason");

        // The genuine announcement beside them lands, though its sequence is lower than the forgeries claimed.
        await relay.PublishRetainedAsync(cluster, broker, mqttTopic, Json(genuine));
        await victim.WaitForFileAsync(victim.OutputPathOf(Topic, Name), current, TestCluster.TransferTimeout);
        Assert.Equal([Name], Directory.EnumerateFiles(Path.Combine(victim.OutputDir, Topic)).Select(Path.GetFileName));
    });

    private static Announcement Parse(string json)
    {
        var announcement = Announcement.TryParse(Encoding.UTF8.GetBytes(json), out var error);
        Assert.True(announcement is not null, $"not an announcement ({error}): {json}");
        return announcement;
    }

    private static string Json(Announcement announcement) => Encoding.UTF8.GetString(announcement.ToJsonUtf8());

    private static Task WaitForRejectedAsync(AgentProcess agent, string reason, double atLeast) =>
        Wait.UntilAsync($"{agent.Name} to count {atLeast} announcement(s) rejected as {reason}", TimeSpan.FromSeconds(30), async () =>
            ((await agent.GetMetricsAsync()).Find("dragonfly_agent_announcements_rejected_total", ("reason", reason)) ?? 0) >= atLeast,
            agent.ThrowIfCrashed);
}
