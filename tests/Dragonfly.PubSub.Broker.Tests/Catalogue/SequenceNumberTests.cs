using Dragonfly.PubSub.Broker.Catalogue;

namespace Dragonfly.PubSub.Broker.Tests.Catalogue;

/// <summary>The broker-assigned sequence numbers of announcements, per topic and name (signed announcements, issue 11).</summary>
public sealed class SequenceNumberTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "dfbroker-seq-" + Guid.NewGuid().ToString("N"));
    private readonly DateTimeOffset _now = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void EveryAnnouncementOfATopicAndName_GetsAHigherNumber_AtLeastTheBrokersClock()
    {
        using var catalogue = new ManifestCatalogue(_dir);
        var v1 = TestManifests.Create("v1", 1);
        var v2 = TestManifests.Create("v2", 1);
        v2.Name = v1.Name;

        catalogue.Store(v1, _now, out var first);
        catalogue.Store(v2, _now, out var second);
        catalogue.Store(v1, _now, out var again); // the older content published again: a new, higher number

        Assert.Equal(_now.ToUnixTimeMilliseconds(), first);
        Assert.Equal(new[] { first + 1, first + 2 }, new[] { second, again });
        Assert.Equal(again, catalogue.LastSequence(v1.Topic, v1.Name));
    }

    [Fact]
    public void TopicsAndNames_CountApart()
    {
        using var catalogue = new ManifestCatalogue(_dir);
        var app = TestManifests.Create("app", 1, topic: "releases/app");
        var tool = TestManifests.Create("tool", 1, topic: "releases/app");
        var elsewhere = TestManifests.Create("app", 1, topic: "releases/other");

        catalogue.Store(app, _now, out var a);
        catalogue.Store(app, _now, out var a2);
        catalogue.Store(tool, _now, out var t);
        catalogue.StoreAnnounced(elsewhere, _now, out var e);

        Assert.Equal(a + 1, a2);
        Assert.Equal(a, t);
        Assert.Equal(a, e);
        Assert.Equal(0L, catalogue.LastSequence("releases/app", "never.bin"));
    }

    [Fact]
    public void Numbers_SurviveARestart_AndNeverGoBack_WhenTheClockDoes()
    {
        var manifest = TestManifests.Create("app", 1);
        long before;
        using (var catalogue = new ManifestCatalogue(_dir))
        {
            catalogue.Store(manifest, _now, out before);
        }

        using var reopened = new ManifestCatalogue(_dir);
        reopened.Store(manifest, _now.AddDays(-30), out var after);

        Assert.Equal(before + 1, after);
        Assert.Equal(after, Assert.Single(reopened.LatestPerTopicSequenced()).Sequence);
    }

    [Fact]
    public void UrlTaskCompletion_KeepsTheAnnouncedNumber_ForTheReplay()
    {
        var blob = TestManifests.Create("blob", 2);
        blob.UrlTask = true;
        using var catalogue = new ManifestCatalogue(_dir);
        catalogue.StoreAnnounced(blob, _now, out var announced);
        blob.ContentDigest = blob.Digest;

        catalogue.StoreSourced(blob, _now.AddMinutes(1));

        var latest = Assert.Single(catalogue.LatestPerTopicSequenced());
        Assert.Equal((blob.Digest, blob.ContentDigest, announced), (latest.Manifest.Digest, latest.Manifest.ContentDigest, latest.Sequence));
    }

    [Fact]
    public void ImageAnnouncement_IsStoredWithItsNumber_AndWithoutASignature()
    {
        using var catalogue = new ManifestCatalogue(_dir);
        var image = ManifestCatalogueTests.TestImage("images/app", "sha256:" + new string('1', 64)) with { Signature = "c2ln", Signer = "Y2VydA==" };

        var first = catalogue.StoreImageAnnouncement(image, _now);
        var second = catalogue.StoreImageAnnouncement(image, _now);

        Assert.Equal(first.Sequence + 1, second.Sequence);
        var kept = Assert.Single(catalogue.LatestImageAnnouncements());
        Assert.Equal((second.Sequence, (string?)null, (string?)null), (kept.Sequence, kept.Signature, kept.Signer));
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
