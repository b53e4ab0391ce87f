using Dragonfly.PubSub.Broker.Catalogue;
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

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
