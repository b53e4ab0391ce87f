using System.Buffers;
using System.Security.Cryptography.X509Certificates;
using Dragonfly.PubSub.Broker.Announcing;
using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Security;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Tests.Announcing;

/// <summary>The publisher's signed announcements: what agents of the fleet verify, and a replay that is not a new version.</summary>
public sealed class SignedAnnouncementPublisherTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dfbroker-signed-").FullName;
    private readonly FleetCa _ca = FleetCa.Create("test fleet CA");

    [Fact]
    public async Task Announcements_AreSignedWithTheirSequence_AndAReplayRepeatsTheSameNumber()
    {
        using var catalogue = new ManifestCatalogue(Path.Combine(_dir, "broker"));
        using var signer = AnnouncementSigner.LoadOrCreate(Path.Combine(_dir, "tls"), _ca);
        var manifest = TestManifests.Create("app", 2);
        catalogue.Store(manifest, DateTimeOffset.UtcNow, out _);
        catalogue.Store(manifest, DateTimeOffset.UtcNow, out var sequence);

        Announcement published;
        using (var server = await StartServerAsync())
        {
            await new AnnouncementPublisher(server, NullLogger<AnnouncementPublisher>.Instance, signer).PublishAsync(manifest, sequence, again: true, CancellationToken.None);
            published = await RetainedAsync(server);
            await server.StopAsync();
        }
        Assert.Equal((manifest.Digest, sequence), (published.Digest, published.Sequence));
        Assert.Equal(SignatureVerdict.Valid, Verify(published));

        using var restarted = await StartServerAsync();
        await new AnnouncementPublisher(restarted, NullLogger<AnnouncementPublisher>.Instance, signer).ReplayAsync(catalogue, CancellationToken.None);
        var replayed = await RetainedAsync(restarted);
        Assert.Equal((manifest.Digest, sequence), (replayed.Digest, replayed.Sequence));
        Assert.Equal(SignatureVerdict.Valid, Verify(replayed));
        await restarted.StopAsync();
    }

    [Fact]
    public void Seal_WithoutASigner_LeavesTheAnnouncementUnsigned()
    {
        using var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder().WithoutDefaultEndpoint().Build());
        var sealedOne = new AnnouncementPublisher(server, NullLogger<AnnouncementPublisher>.Instance)
            .Seal(AnnouncementPublisher.ToAnnouncement(TestManifests.Create("app", 1)) with { Signature = "c2ln" });

        Assert.Null(sealedOne.Signature);
        Assert.Null(sealedOne.Signer);
        Assert.DoesNotContain("signature", System.Text.Encoding.UTF8.GetString(sealedOne.ToJsonUtf8()), StringComparison.Ordinal);
    }

    [Fact]
    public void SealManifest_SignsTheContentTasksPieces_AFleetAgentVerifiesIt_AndAChangedPieceFails()
    {
        using var signer = AnnouncementSigner.LoadOrCreate(Path.Combine(_dir, "tls"), _ca);
        using var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder().WithoutDefaultEndpoint().Build());
        var publisher = new AnnouncementPublisher(server, NullLogger<AnnouncementPublisher>.Instance, signer);
        var manifest = TestManifests.Create("app", 3);
        // Whatever the publisher claimed is replaced by the broker's own signature.
        manifest.Signer = Convert.ToBase64String(_ca.Certificate.RawData);
        manifest.Signature = "c2ln";

        publisher.SealManifest(manifest);

        Assert.Equal(signer.CertificateBase64, manifest.Signer);
        Assert.Equal(SignatureVerdict.Valid, Verify(manifest));
        // Another name or topic (the same bytes published again) keeps the signature: it covers content only.
        var renamed = manifest.Clone();
        renamed.Name = "other.tar";
        renamed.Topic = "releases/other";
        Assert.Equal(SignatureVerdict.Valid, Verify(renamed));
        var tampered = manifest.Clone();
        tampered.PieceDigests[1] = Google.Protobuf.ByteString.CopyFrom(new byte[32]);
        Assert.Equal(SignatureVerdict.BadSignature, Verify(tampered));
    }

    [Fact]
    public void SealManifest_LeavesUrlTasksAndInsecureBrokersUnsigned()
    {
        using var signer = AnnouncementSigner.LoadOrCreate(Path.Combine(_dir, "tls"), _ca);
        using var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder().WithoutDefaultEndpoint().Build());
        var urlTask = TestManifests.Create("url", 2);
        urlTask.UrlTask = true;
        var insecure = TestManifests.Create("app", 2);
        insecure.Signature = "c2ln";

        new AnnouncementPublisher(server, NullLogger<AnnouncementPublisher>.Instance, signer).SealManifest(urlTask);
        new AnnouncementPublisher(server, NullLogger<AnnouncementPublisher>.Instance).SealManifest(insecure);

        Assert.Equal(("", ""), (urlTask.Signer, urlTask.Signature));
        Assert.Equal(("", ""), (insecure.Signer, insecure.Signature));
    }

    public void Dispose()
    {
        _ca.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>The check an agent of this fleet makes.</summary>
    private SignatureVerdict Verify(Announcement announcement)
    {
        var agent = new TlsIdentity([X509CertificateLoader.LoadCertificate(_ca.Certificate.RawData)],
            _ca.IssueWithNewKey(new PeerIdentity("agent-1", PeerRole.Agent, []), TimeSpan.FromDays(1)), TlsCiphers.Default);
        return AnnouncementSignatureCheck.Verify(agent, announcement.Signer, announcement.Signature, AnnouncementSigning.BytesToSign(announcement)).Verdict;
    }

    private SignatureVerdict Verify(Dragonfly.PubSub.Contracts.Scheduler.Manifest manifest)
    {
        var agent = new TlsIdentity([X509CertificateLoader.LoadCertificate(_ca.Certificate.RawData)],
            _ca.IssueWithNewKey(new PeerIdentity("agent-1", PeerRole.Agent, []), TimeSpan.FromDays(1)), TlsCiphers.Default);
        return AnnouncementSignatureCheck.Verify(agent, manifest.Signer, manifest.Signature, ManifestSigning.BytesToSign(manifest)).Verdict;
    }

    private static async Task<MqttServer> StartServerAsync()
    {
        var server = new MqttServerFactory().CreateMqttServer(new MqttServerOptionsBuilder().WithoutDefaultEndpoint().Build());
        await server.StartAsync();
        return server;
    }

    private static async Task<Announcement> RetainedAsync(MqttServer server)
    {
        var message = Assert.Single(await server.GetRetainedMessagesAsync());
        return Announcement.TryParse(message.Payload.ToArray(), out var error) ?? throw new InvalidOperationException(error);
    }
}
