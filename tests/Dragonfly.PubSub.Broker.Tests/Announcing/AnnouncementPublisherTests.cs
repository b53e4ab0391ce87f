using System.Text;
using Dragonfly.PubSub.Broker.Announcing;
using Dragonfly.PubSub.Contracts;

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
    public void Announcement_WithAMalformedContentDigest_IsRejected()
    {
        var announcement = AnnouncementPublisher.ToAnnouncement(TestManifests.Create("file", 2)) with { UrlTask = true, ContentDigest = "sha256:xyz" };

        Assert.Contains("contentDigest", announcement.Validate());
    }
}
