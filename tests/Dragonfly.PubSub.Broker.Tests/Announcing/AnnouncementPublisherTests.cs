using System.Buffers;
using System.Net;
using System.Text;
using System.Threading.Channels;
using Dragonfly.PubSub.Broker.Announcing;
using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Preheat;
using Dragonfly.PubSub.Broker.Tests.Catalogue;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Tests.Announcing;

public sealed class AnnouncementPublisherTests
{
    [Fact]
    public void ToAnnouncement_OfAUrlTask_CarriesUrlTaskAndTheContentDigestOnceKnown()
    {
        var manifest = TestManifests.Create("url", 2);
        manifest.UrlTask = true;
        var unknown = Encoding.UTF8.GetString(AnnouncementPublisher.ToAnnouncement(manifest).ToJsonUtf8());
        manifest.ContentDigest = TestManifests.Create("content", 1).Digest;

        var json = AnnouncementPublisher.ToAnnouncement(manifest).ToJsonUtf8();

        Assert.Contains("\"urlTask\":true", unknown);
        Assert.DoesNotContain("contentDigest", unknown);
        var parsed = Announcement.TryParse(json, out var error);
        Assert.Null(error);
        Assert.Equal((true, manifest.ContentDigest, 2), (parsed!.UrlTask, parsed.ContentDigest, parsed.PieceCount));
    }

    [Fact]
    public void ToAnnouncement_OfAContentTask_OmitsTheUrlTaskFields()
    {
        var json = Encoding.UTF8.GetString(AnnouncementPublisher.ToAnnouncement(TestManifests.Create("file", 2)).ToJsonUtf8());

        Assert.DoesNotContain("urlTask", json);
        Assert.DoesNotContain("contentDigest", json);
    }

    [Fact]
    public void ToAnnouncement_OfAContentTask_CarriesItsManifest_ThatReadsBackAsTheSame()
    {
        var manifest = TestManifests.Create("file", 3);
        manifest.Signer = "c2lnbmVy";
        manifest.Signature = "c2lnbmF0dXJl";

        var parsed = Announcement.TryParse(AnnouncementPublisher.ToAnnouncement(manifest).ToJsonUtf8(), out var error);

        Assert.Null(error);
        Assert.Equal(manifest, Manifests.FromInline(parsed!.Manifest!, out var inlineError));
        Assert.Null(inlineError);
    }

    [Fact]
    public void ToAnnouncement_CarriesNoManifest_OfAUrlTask_OrOverTheLimit_OrWithTheLimitZero()
    {
        var manifest = TestManifests.Create("file", 40);
        var url = manifest.Clone();
        url.UrlTask = true;

        Assert.Null(AnnouncementPublisher.ToAnnouncement(url).Manifest);
        Assert.Null(AnnouncementPublisher.ToAnnouncement(manifest, manifest.CalculateSize() - 1).Manifest);
        Assert.NotNull(AnnouncementPublisher.ToAnnouncement(manifest, manifest.CalculateSize()).Manifest);
        Assert.Null(AnnouncementPublisher.ToAnnouncement(manifest, 0).Manifest);
    }

    [Fact]
    public void Announcement_OfAUrlTask_CarryingAManifest_IsRejected()
    {
        var announcement = AnnouncementPublisher.ToAnnouncement(TestManifests.Create("file", 2)) with { UrlTask = true };

        Assert.Contains("carries no manifest", announcement.Validate());
    }

    [Fact]
    public void Announcement_WithAMalformedContentDigest_IsRejected()
    {
        var announcement = AnnouncementPublisher.ToAnnouncement(TestManifests.Create("file", 2)) with { UrlTask = true, ContentDigest = "sha256:xyz", Manifest = null };

        Assert.Contains("contentDigest", announcement.Validate());
    }

    [Fact]
    public async Task ImageAnnouncement_IsRetained_AndReplayedFromTheCatalogueAfterARestart()
    {
        var dir = Directory.CreateTempSubdirectory("dfbroker-replay-").FullName;
        try
        {
            using var catalogue = new ManifestCatalogue(dir);
            var blob = TestManifests.Create("blob", 2, topic: "images/app");
            blob.UrlTask = true;
            blob.ContentDigest = blob.Digest;
            catalogue.StoreAnnounced(blob, DateTimeOffset.UtcNow);
            catalogue.StoreSourced(blob, DateTimeOffset.UtcNow);
            var other = TestManifests.Create("file", 1, topic: "releases/app");
            catalogue.Store(other, DateTimeOffset.UtcNow);
            var image = ManifestCatalogueTests.TestImage("images/app", blob.Digest);

            using (var server = await StartServerAsync())
            {
                var announcer = new ImageAnnouncer(catalogue, new AnnouncementPublisher(server, NullLogger<AnnouncementPublisher>.Instance));
                await announcer.AnnounceAsync(image, CancellationToken.None);
                Assert.Equal(image.Blobs, Assert.Single(await RetainedAsync(server)).Value.Blobs);
                await server.StopAsync();
            }

            // The embedded server's retained messages are gone with it; the replay brings them back.
            using var restarted = await StartServerAsync();
            var replayed = await new AnnouncementPublisher(restarted, NullLogger<AnnouncementPublisher>.Instance).ReplayAsync(catalogue, CancellationToken.None);

            Assert.Equal(2, replayed);
            var retained = await RetainedAsync(restarted);
            Assert.Equal(["images/app", "releases/app"], retained.Keys.Order());
            var again = retained["images/app"];
            Assert.True(ImageBlobLabels.IsImage(again.Labels));
            Assert.Equal(image.Digest, again.Digest);
            Assert.Equal(image.Blobs, again.Blobs);
            Assert.Equal(other.Digest, retained["releases/app"].Digest);
            await restarted.StopAsync();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task PublishAsync_AnInvalidImageAnnouncement_IsRefusedAndNothingIsRetained()
    {
        using var server = await StartServerAsync();
        var publisher = new AnnouncementPublisher(server, NullLogger<AnnouncementPublisher>.Instance);
        var image = ManifestCatalogueTests.TestImage("images/app", "sha256:" + new string('1', 64));

        var error = await Assert.ThrowsAsync<ArgumentException>(() => publisher.PublishAsync(image with { Blobs = [] }, CancellationToken.None));

        Assert.Contains("lists no blobs", error.Message);
        Assert.Empty(await server.GetRetainedMessagesAsync());
        await server.StopAsync();
    }

    [Fact]
    public async Task PublishAsync_ACarriedManifest_GoesToTheConnectedSubscribers_ButNotIntoTheRetainedCopy()
    {
        var port = FreePort.Next();
        using var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder()
            .WithDefaultEndpoint().WithDefaultEndpointBoundIPAddress(IPAddress.Loopback).WithDefaultEndpointPort(port).Build());
        await server.StartAsync();
        var publisher = new AnnouncementPublisher(server, NullLogger<AnnouncementPublisher>.Instance);
        var first = TestManifests.Create("first", 3);
        var second = TestManifests.Create("second", 2);
        using var early = await SubscribeAsync(port, "early");

        await publisher.PublishAsync(first, sequence: 1, again: false, CancellationToken.None);
        await publisher.PublishAsync(second, sequence: 2, again: false, CancellationToken.None);

        // Connected before: each announcement once, live, with its manifest (a duplicate of the first would come before the second).
        var (live1, retained1) = await early.NextAsync();
        var (live2, _) = await early.NextAsync();
        Assert.Equal((first.Digest, false), (live1.Digest, retained1));
        Assert.Equal(first, Manifests.FromInline(live1.Manifest!, out _));
        Assert.Equal(second, Manifests.FromInline(live2.Manifest!, out _));
        // Retained, and so delivered to whoever subscribes later: the latest announcement without its manifest.
        var kept = Assert.Single(await RetainedAsync(server)).Value;
        Assert.Equal((second.Digest, 2L, (string?)null), (kept.Digest, kept.Sequence, kept.Manifest));
        using var late = await SubscribeAsync(port, "late");
        var (latest, retained) = await late.NextAsync();
        Assert.Equal((second.Digest, (string?)null, true), (latest.Digest, latest.Manifest, retained));
        await server.StopAsync();
    }

    [Fact]
    public async Task ReplayAsync_RestoresTheRetainedCopy_WithoutTheManifest()
    {
        var dir = Directory.CreateTempSubdirectory("dfbroker-replay-").FullName;
        try
        {
            using var catalogue = new ManifestCatalogue(dir);
            var manifest = TestManifests.Create("file", 3);
            catalogue.Store(manifest, DateTimeOffset.UtcNow);
            using var server = await StartServerAsync();

            await new AnnouncementPublisher(server, NullLogger<AnnouncementPublisher>.Instance).ReplayAsync(catalogue, CancellationToken.None);

            var replayed = Assert.Single(await RetainedAsync(server)).Value;
            Assert.Equal((manifest.Digest, (string?)null), (replayed.Digest, replayed.Manifest));
            Assert.NotNull(AnnouncementPublisher.ToAnnouncement(manifest).Manifest); // it would have fitted
            await server.StopAsync();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A real MQTT client subscribed to every announcement topic; what it receives, in order.</summary>
    private sealed class Subscriber(IMqttClient client, Channel<(Announcement, bool)> received) : IDisposable
    {
        public async Task<(Announcement Announcement, bool Retained)> NextAsync() =>
            await received.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        public void Dispose() => client.Dispose();
    }

    private static async Task<Subscriber> SubscribeAsync(int port, string clientId)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var received = Channel.CreateUnbounded<(Announcement, bool)>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            var announcement = Announcement.TryParse(e.ApplicationMessage.Payload.ToArray(), out var error) ?? throw new InvalidOperationException(error);
            received.Writer.TryWrite((announcement, e.ApplicationMessage.Retain));
            return Task.CompletedTask;
        };
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(clientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).Build());
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(TopicName.AnnouncePrefix + "#").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build());
        return new Subscriber(client, received);
    }

    /// <summary>An embedded MQTT server without listeners: announcements are injected, retained messages read back.</summary>
    private static async Task<MqttServer> StartServerAsync()
    {
        var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder().WithoutDefaultEndpoint().Build());
        await server.StartAsync();
        return server;
    }

    private static async Task<Dictionary<string, Announcement>> RetainedAsync(MqttServer server)
    {
        var retained = new Dictionary<string, Announcement>();
        foreach (var message in await server.GetRetainedMessagesAsync())
        {
            var announcement = Announcement.TryParse(message.Payload.ToArray(), out var error) ?? throw new InvalidOperationException(error);
            retained[TopicName.FromMqttTopic(message.Topic)!] = announcement;
        }
        return retained;
    }
}
