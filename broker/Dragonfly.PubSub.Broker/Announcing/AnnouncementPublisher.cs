using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Security;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Announcing;

/// <summary>
/// Publishes announcements (QoS 1, retained; a carried manifest only in the live form) through the <see cref="IAnnouncementTransport"/> (the
/// embedded MQTT server by default, an external MQTT 5 broker with <c>dfbroker --mqtt-url</c>), each with
/// its sequence number from the catalogue and, in secure mode, signed by <paramref name="signer"/> (see <see cref="Seal"/>).
/// </summary>
/// <param name="signer">The broker's announcement-signing key; null with --insecure (announcements go out unsigned).</param>
/// <param name="inlineManifestMax">A content task's manifest of at most this many bytes rides in its announcement (0: never).</param>
public sealed class AnnouncementPublisher(
    IAnnouncementTransport transport, ILogger<AnnouncementPublisher> logger, AnnouncementSigner? signer = null,
    int inlineManifestMax = Announcement.DefaultInlineManifestMax)
{
    public const string SenderClientId = "dfbroker";

    /// <summary>Into the embedded server (tests, and the default wiring).</summary>
    public AnnouncementPublisher(MqttServer server, ILogger<AnnouncementPublisher> logger, AnnouncementSigner? signer = null,
        int inlineManifestMax = Announcement.DefaultInlineManifestMax)
        : this(new EmbeddedMqttTransport(server), logger, signer, inlineManifestMax)
    {
    }

    /// <summary>Announcements can be published now.</summary>
    public bool IsServerStarted => transport.IsReady;

    /// <summary>Where agents subscribe (told in the Welcome); null: the broker's own MQTT listener.</summary>
    public Uri? SubscriberUrl => transport.SubscriberUrl;

    /// <summary>Announces <paramref name="manifest"/> under <paramref name="sequence"/>, which the catalogue assigned when it stored it.</summary>
    public async Task PublishAsync(Manifest manifest, long sequence, bool again, CancellationToken cancellationToken)
    {
        await WaitUntilStartedAsync(cancellationToken).ConfigureAwait(false);
        await InjectAsync(ToAnnouncement(manifest, inlineManifestMax) with { Sequence = sequence }, cancellationToken).ConfigureAwait(false);
        BrokerMetrics.Announcements.Inc();
        BrokerLog.Announced(logger, manifest.Digest, manifest.Name, manifest.Size, manifest.Topic, again ? " (again)" : "");
    }

    /// <summary>
    /// Publishes an announcement that stands for no single manifest: a preheat job's image announcement
    /// (<see cref="Announcement.Blobs"/>). Throws <see cref="ArgumentException"/> when it is not valid.
    /// </summary>
    public async Task PublishAsync(Announcement image, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (image.Validate() is { } problem)
        {
            throw new ArgumentException($"the announcement of {image.Digest} is not valid: {problem}", nameof(image));
        }
        await WaitUntilStartedAsync(cancellationToken).ConfigureAwait(false);
        await InjectAsync(image, cancellationToken).ConfigureAwait(false);
        BrokerMetrics.Announcements.Inc();
        BrokerLog.ImageAnnounced(logger, image.Digest, image.Labels.GetValueOrDefault(ImageBlobLabels.Image, image.Name), image.Blobs.Count, image.Size, image.Topic);
    }

    /// <summary>
    /// The embedded server keeps retained messages in memory only: after a restart, the latest
    /// announcement of every topic is published again from the catalogue (an image announcement too).
    /// </summary>
    public async Task<int> ReplayAsync(ManifestCatalogue catalogue, CancellationToken cancellationToken)
    {
        await WaitUntilStartedAsync(cancellationToken).ConfigureAwait(false);
        var count = 0;
        foreach (var (manifest, sequence) in catalogue.LatestPerTopicSequenced())
        {
            if (manifest.UrlTask && catalogue.Find(manifest.Digest) is null)
            {
                // A URL task whose source had not finished: its URL was in memory only, so it cannot be fetched now.
                continue;
            }
            // The same sequence number as when it was first announced: a replay is not a new version. It restores
            // the retained copy, which carries no manifest (the subscribers to come ask for it if the task is new to them).
            await InjectAsync(ToAnnouncement(manifest, inlineManifestMax: 0) with { Sequence = sequence }, cancellationToken).ConfigureAwait(false);
            count++;
        }
        foreach (var image in catalogue.LatestImageAnnouncements())
        {
            // Its blobs' manifests are in the catalogue since their sources finished (the job succeeded only then).
            await InjectAsync(image, cancellationToken).ConfigureAwait(false);
            count++;
        }
        BrokerLog.Replayed(logger, count);
        return count;
    }

    /// <summary>The hosted MQTT server may start a moment after Kestrel (an external broker connect later); publishing waits for it.</summary>
    public Task WaitUntilStartedAsync(CancellationToken cancellationToken) => transport.WaitUntilReadyAsync(cancellationToken);

    /// <summary>
    /// The announcement of a manifest; a URL task's carries <c>urlTask</c> and, once known, <c>contentDigest</c>.
    /// A content task's carries the (sealed) manifest itself when it is at most <paramref name="inlineManifestMax"/>
    /// bytes: every subscriber would otherwise ask for it at the same moment, one round trip each before its join.
    /// </summary>
    public static Announcement ToAnnouncement(Manifest manifest, int inlineManifestMax = Announcement.DefaultInlineManifestMax) => manifest.ToAnnouncement() with
    {
        UrlTask = manifest.UrlTask,
        ContentDigest = manifest.UrlTask && manifest.ContentDigest.Length > 0 ? manifest.ContentDigest : null,
        Manifest = manifest.UrlTask ? null : manifest.ToInline(inlineManifestMax),
    };

    /// <summary>
    /// The announcement as it goes out: signed over <see cref="AnnouncementSigning.BytesToSign"/> with the
    /// signer's certificate beside the signature, or unsigned without a signer (--insecure).
    /// </summary>
    public Announcement Seal(Announcement announcement)
    {
        ArgumentNullException.ThrowIfNull(announcement);
        if (signer is null)
        {
            return announcement with { Signer = null, Signature = null };
        }
        var signature = signer.Sign(AnnouncementSigning.BytesToSign(announcement));
        return announcement with { Signer = signer.CertificateBase64, Signature = Convert.ToBase64String(signature) };
    }

    /// <summary>
    /// Signs a content task's manifest over <see cref="ManifestSigning.BytesToSign"/> before it is stored, in place;
    /// whatever signer or signature the publisher sent is dropped (--insecure: left unsigned).
    /// </summary>
    public void SealManifest(Manifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        manifest.Signer = "";
        manifest.Signature = "";
        if (signer is not null && !manifest.UrlTask)
        {
            manifest.Signer = signer.CertificateBase64;
            manifest.Signature = Convert.ToBase64String(signer.Sign(ManifestSigning.BytesToSign(manifest)));
        }
    }

    /// <summary>
    /// Signs and publishes: an announcement that carries its manifest goes to the subscribers connected now as it
    /// is and is retained without the manifest (see <see cref="IAnnouncementTransport.AnnounceAsync"/>); the
    /// manifest is not covered by the announcement's signature, so both forms carry the same one.
    /// </summary>
    private Task InjectAsync(Announcement announcement, CancellationToken cancellationToken)
    {
        var signed = Seal(announcement);
        if (signed.Manifest is null)
        {
            return transport.PublishAsync(Message(signed, retain: true), cancellationToken);
        }
        return transport.AnnounceAsync(Message(signed, retain: false), Message(signed with { Manifest = null }, retain: true), cancellationToken);
    }

    private static MqttApplicationMessage Message(Announcement announcement, bool retain) => new MqttApplicationMessageBuilder()
        .WithTopic(TopicName.ToMqttTopic(announcement.Topic))
        .WithPayload(announcement.ToJsonUtf8())
        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
        .WithRetainFlag(retain)
        .WithContentType("application/json")
        .Build();
}
