using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Contracts;
using Google.Protobuf;

namespace Dragonfly.PubSub.Broker.Tests.Catalogue;

public sealed class ManifestCatalogueTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "dfbroker-tests-" + Guid.NewGuid().ToString("N"));
    private readonly DateTimeOffset _now = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Store_ThenReopen_KeepsManifestsTopicsAndBrokerId()
    {
        var first = TestManifests.Create("one", 3, topic: "releases/app");
        var second = TestManifests.Create("two", 2, topic: "releases/app");
        var other = TestManifests.Create("three", 1, topic: "tools/x");
        string brokerId;
        using (var catalogue = new ManifestCatalogue(_dir))
        {
            catalogue.Store(first, _now);
            catalogue.Store(second, _now);
            catalogue.Store(other, _now);
            brokerId = catalogue.BrokerId;
        }

        using var reopened = new ManifestCatalogue(_dir);

        Assert.Equal(brokerId, reopened.BrokerId);
        Assert.Equal(first, reopened.Find(first.Digest));
        Assert.Equal(3, reopened.All().Count);
        Assert.Equal(
            [(second.Digest, "releases/app"), (other.Digest, "tools/x")],
            reopened.LatestPerTopic().Select(m => (m.Digest, m.Topic)).OrderBy(t => t.Topic));
        Assert.True(reopened.IsHealthy());
    }

    [Fact]
    public void Store_PastTheCacheCap_KeepsAtMostTheCapInMemory_AndFindsTheRestInTheStore()
    {
        using var catalogue = new ManifestCatalogue(_dir, database => new LiteDbCatalogueStore(database), maxCached: 2);
        var manifests = Enumerable.Range(0, 5).Select(i => TestManifests.Create($"m{i}", 2, topic: $"t/{i}")).ToList();

        foreach (var manifest in manifests)
        {
            catalogue.Store(manifest, _now);
        }
        foreach (var manifest in manifests)
        {
            Assert.Equal(manifest, catalogue.Find(manifest.Digest));
        }

        Assert.Equal(2, catalogue.CachedCount);
        Assert.Equal(5, catalogue.All().Count);
    }

    [Fact]
    public void Store_WhenDigestKnown_ReportsAlreadyKnown()
    {
        using var catalogue = new ManifestCatalogue(_dir);
        var manifest = TestManifests.Create("one", 3);

        Assert.False(catalogue.Store(manifest, _now));
        Assert.True(catalogue.Store(manifest, _now));
    }

    [Fact]
    public void Store_SameContentOnAnotherTopic_IsRetainedUnderThatTopic()
    {
        using var catalogue = new ManifestCatalogue(_dir);
        var manifest = TestManifests.Create("one", 3, topic: "a/b");
        var elsewhere = manifest.Clone();
        elsewhere.Topic = "c/d";

        catalogue.Store(manifest, _now);
        Assert.True(catalogue.Store(elsewhere, _now));

        Assert.Equal(["a/b", "c/d"], catalogue.LatestPerTopic().Select(m => m.Topic).Order());
    }

    [Fact]
    public void Find_WhenUnknown_ReturnsNull()
    {
        using var catalogue = new ManifestCatalogue(_dir);

        Assert.Null(catalogue.Find(TestManifests.Create("missing", 1).Digest));
    }

    [Fact]
    public void UrlTask_AnnouncedThenSourced_IsStoredOnceComplete_AndItsAnnouncementGainsTheContentDigest()
    {
        var complete = TestManifests.Create("url", 3, topic: "releases/url");
        complete.UrlTask = true;
        complete.ContentDigest = TestManifests.Create("content", 1).Digest;
        var partial = complete.Clone();
        partial.ContentDigest = "";
        partial.PieceDigests[1] = ByteString.Empty;
        partial.PieceDigests[2] = ByteString.Empty;
        var elsewhere = partial.Clone();
        elsewhere.Topic = "mirror/url";
        elsewhere.Name = "renamed.bin";
        using (var catalogue = new ManifestCatalogue(_dir))
        {
            catalogue.StoreAnnounced(partial, _now);
            catalogue.StoreAnnounced(elsewhere, _now);
            Assert.Null(catalogue.Find(complete.Digest)); // not a task until its source finished

            catalogue.StoreSourced(complete, _now);
            catalogue.StoreSourced(complete, _now); // again, after a new source fetched it: replaces
        }

        using var reopened = new ManifestCatalogue(_dir);
        Assert.Equal(complete, reopened.Find(complete.Digest));
        var announced = reopened.LatestPerTopic().OrderBy(m => m.Topic).ToList();
        Assert.Equal(["mirror/url", "releases/url"], announced.Select(m => m.Topic));
        Assert.Equal("renamed.bin", announced[0].Name);
        Assert.All(announced, m => Assert.Equal((complete.ContentDigest, complete.PieceDigests), (m.ContentDigest, m.PieceDigests)));
    }

    [Fact]
    public void ImageAnnouncement_IsItsTopicsLatest_AcrossAReopen_UntilTheTopicAnnouncesAgain()
    {
        var blob = TestManifests.Create("blob", 2, topic: "images/app");
        blob.UrlTask = true;
        blob.ContentDigest = blob.Digest;
        var image = TestImage("images/app", blob.Digest);
        var other = TestManifests.Create("other", 1, topic: "releases/app");
        using (var catalogue = new ManifestCatalogue(_dir))
        {
            catalogue.StoreAnnounced(blob, _now);
            catalogue.Store(other, _now);
            catalogue.StoreImageAnnouncement(image);
            catalogue.StoreSourced(blob, _now); // the blob's task is stored; the topic's latest stays the image
        }

        using var reopened = new ManifestCatalogue(_dir);
        Assert.Equal(blob, reopened.Find(blob.Digest));
        Assert.Equal([other.Digest], reopened.LatestPerTopic().Select(m => m.Digest));
        var kept = Assert.Single(reopened.LatestImageAnnouncements());
        Assert.Equal((image.Digest, image.Topic), (kept.Digest, kept.Topic));
        Assert.Equal(image.Blobs, kept.Blobs);
        Assert.True(ImageBlobLabels.IsImage(kept.Labels));

        var next = TestManifests.Create("next", 1, topic: "images/app");
        reopened.Store(next, _now);
        Assert.Empty(reopened.LatestImageAnnouncements());
        Assert.Equal([next.Digest, other.Digest], reopened.LatestPerTopic().OrderBy(m => m.Topic).Select(m => m.Digest));
    }

    internal static Announcement TestImage(string topic, params string[] blobs) => new()
    {
        Digest = "sha256:" + new string('d', 64),
        Name = new string('d', 64),
        Size = 1234,
        Topic = topic,
        Publisher = "preheat-0011223344556677",
        CreatedAt = new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero),
        Labels = new() { [ImageBlobLabels.Kind] = ImageBlobLabels.ImageAnnouncement, [ImageBlobLabels.Image] = "registry.test/app:v1" },
        Blobs = blobs,
    };

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
