using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Announcing;

/// <summary>Publishes announcements (QoS 1, retained) into the embedded MQTT server.</summary>
public sealed class AnnouncementPublisher(MqttServer server, ILogger<AnnouncementPublisher> logger)
{
    public const string SenderClientId = "dfbroker";

    public bool IsServerStarted => server.IsStarted;

    public async Task PublishAsync(Manifest manifest, bool again, CancellationToken cancellationToken)
    {
        await WaitUntilStartedAsync(cancellationToken).ConfigureAwait(false);
        await InjectAsync(ToAnnouncement(manifest), cancellationToken).ConfigureAwait(false);
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
        foreach (var manifest in catalogue.LatestPerTopic())
        {
            if (manifest.UrlTask && catalogue.Find(manifest.Digest) is null)
            {
                // A URL task whose source had not finished: its URL was in memory only, so it cannot be fetched now.
                continue;
            }
            await InjectAsync(ToAnnouncement(manifest), cancellationToken).ConfigureAwait(false);
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

    /// <summary>The hosted MQTT server may start a moment after Kestrel; publishing waits for it.</summary>
    public async Task WaitUntilStartedAsync(CancellationToken cancellationToken)
    {
        while (!server.IsStarted)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The announcement of a manifest; a URL task's carries <c>urlTask</c> and, once known, <c>contentDigest</c>.</summary>
    public static Announcement ToAnnouncement(Manifest manifest) => manifest.ToAnnouncement() with
    {
        UrlTask = manifest.UrlTask,
        ContentDigest = manifest.UrlTask && manifest.ContentDigest.Length > 0 ? manifest.ContentDigest : null,
    };

    private Task InjectAsync(Announcement announcement, CancellationToken cancellationToken)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(TopicName.ToMqttTopic(announcement.Topic))
            .WithPayload(announcement.ToJsonUtf8())
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag()
            .WithContentType("application/json")
            .Build();
        return server.InjectApplicationMessage(
            new InjectedMqttApplicationMessage(message) { SenderClientId = SenderClientId },
            cancellationToken);
    }
}
