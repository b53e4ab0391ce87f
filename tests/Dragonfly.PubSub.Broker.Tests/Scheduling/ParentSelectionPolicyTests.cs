using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Contracts;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Broker.Tests.Scheduling;

public sealed class ParentSelectionPolicyTests
{
    private const int Pieces = 16;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private ParentSelectionPolicy Policy(int maxParents = 6) => new(_time, new Random(42), maxParents);

    private static ChildProfile Child(PieceBitmap? bitmap = null, string cluster = "", IReadOnlySet<string>? corrupt = null) =>
        new("child", bitmap ?? new PieceBitmap(Pieces), cluster, "", corrupt ?? new HashSet<string>());

    private static ParentCandidate Peer(string id, PieceBitmap bitmap, bool publisher = false, string cluster = "",
        int children = 0, int uploadSlots = 4, IReadOnlyList<DateTimeOffset>? failures = null) =>
        new(id, bitmap, publisher, cluster, "", children, uploadSlots, failures ?? []);

    [Fact]
    public void Select_AppendsPublisherLast_AsLastResort()
    {
        var choices = Policy().Select(Child(),
        [
            Peer("pub", PieceBitmap.Full(Pieces), publisher: true),
            Peer("a", TestManifests.Bitmap(Pieces, 0, 1)),
            Peer("b", TestManifests.Bitmap(Pieces, 2)),
        ]);

        Assert.Equal(3, choices.Count);
        Assert.Equal(new ParentChoice("pub", LastResort: true), choices[^1]);
        Assert.All(choices.Take(2), c => Assert.False(c.LastResort));
    }

    [Fact]
    public void Select_WhenOnlyPublisherHoldsPieces_OffersItAsLastResort()
    {
        var choices = Policy().Select(Child(), [Peer("pub", PieceBitmap.Full(Pieces), publisher: true), Peer("empty", new PieceBitmap(Pieces))]);

        Assert.Equal([new ParentChoice("pub", LastResort: true)], choices);
    }

    [Fact]
    public void Select_WhenPublisherIsBeyondMaxParents_StillAppendsIt()
    {
        var peers = Enumerable.Range(0, 5).Select(i => Peer($"p{i}", PieceBitmap.Full(Pieces))).ToList();
        peers.Add(Peer("pub", PieceBitmap.Full(Pieces), publisher: true));

        var choices = Policy(maxParents: 2).Select(Child(), peers);

        Assert.Equal(3, choices.Count);
        Assert.Equal("pub", choices[^1].PeerId);
        Assert.True(choices[^1].LastResort);
    }

    [Fact]
    public void Select_WhenParentReportedCorrupt_NeverOffersItAgain()
    {
        var corrupt = new HashSet<string> { "bad", "badpub" };

        var choices = Policy().Select(Child(corrupt: corrupt),
        [
            Peer("bad", PieceBitmap.Full(Pieces)),
            Peer("good", TestManifests.Bitmap(Pieces, 3)),
            Peer("badpub", PieceBitmap.Full(Pieces), publisher: true),
        ]);

        Assert.Equal([new ParentChoice("good", LastResort: false)], choices);
    }

    [Fact]
    public void Select_SkipsPeersThatHoldNothingTheChildLacks()
    {
        var child = Child(TestManifests.Bitmap(Pieces, 0, 1));

        var choices = Policy().Select(child,
        [
            Peer("same", TestManifests.Bitmap(Pieces, 0, 1)),
            Peer("subset", TestManifests.Bitmap(Pieces, 1)),
            Peer("useful", TestManifests.Bitmap(Pieces, 1, 2)),
            Peer("child", PieceBitmap.Full(Pieces)),
        ]);

        Assert.Equal(["useful"], choices.Select(c => c.PeerId));
    }

    [Fact]
    public void Select_PrefersLessLoadedParents()
    {
        var choices = Policy(maxParents: 2).Select(Child(),
        [
            Peer("busy", PieceBitmap.Full(Pieces), children: 8, uploadSlots: 4),
            Peer("idle", TestManifests.Bitmap(Pieces, 0), children: 0),
            Peer("half", PieceBitmap.Full(Pieces), children: 2, uploadSlots: 4),
        ]);

        Assert.Equal(["idle", "half"], choices.Select(c => c.PeerId));
    }

    [Fact]
    public void Select_CountsLoadPerUploadSlot()
    {
        var choices = Policy(maxParents: 1).Select(Child(),
        [
            Peer("small", PieceBitmap.Full(Pieces), children: 2, uploadSlots: 2),
            Peer("large", PieceBitmap.Full(Pieces), children: 4, uploadSlots: 16),
        ]);

        Assert.Equal("large", Assert.Single(choices).PeerId);
    }

    [Fact]
    public void Select_AvoidsRecentlyFailingParents_UntilTheFailuresDecay()
    {
        var candidates = new[]
        {
            Peer("flaky", PieceBitmap.Full(Pieces), failures: [_time.GetUtcNow()]),
            Peer("steady", TestManifests.Bitmap(Pieces, 0)),
        };

        Assert.Equal("steady", Assert.Single(Policy(maxParents: 1).Select(Child(), candidates)).PeerId);

        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal("steady", Assert.Single(Policy(maxParents: 1).Select(Child(), candidates)).PeerId);

        // After 60 s the failure no longer counts and the peer with more useful pieces wins again.
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("flaky", Assert.Single(Policy(maxParents: 1).Select(Child(), candidates)).PeerId);
    }

    [Fact]
    public void Select_PrefersSameCluster_WhenTheChildHasOne()
    {
        var candidates = new[]
        {
            Peer("remote", PieceBitmap.Full(Pieces), cluster: "eu"),
            Peer("local", TestManifests.Bitmap(Pieces, 5), cluster: "us", children: 1),
        };

        Assert.Equal("local", Assert.Single(Policy(maxParents: 1).Select(Child(cluster: "us"), candidates)).PeerId);
        // Without a cluster label the child does not care: load decides.
        Assert.Equal("remote", Assert.Single(Policy(maxParents: 1).Select(Child(), candidates)).PeerId);
    }

    [Fact]
    public void Select_PrefersMoreUsefulPieces_WhenOtherwiseEqual()
    {
        var choices = Policy(maxParents: 1).Select(Child(),
        [
            Peer("few", TestManifests.Bitmap(Pieces, 0)),
            Peer("many", TestManifests.Bitmap(Pieces, 0, 1, 2, 3)),
        ]);

        Assert.Equal("many", Assert.Single(choices).PeerId);
    }

    [Fact]
    public void Select_TakesAtMostMaxParents_AndBreaksTiesWithTheInjectedRandom()
    {
        var peers = Enumerable.Range(0, 10).Select(i => Peer($"p{i}", PieceBitmap.Full(Pieces))).ToList();

        var first = Policy(maxParents: 3).Select(Child(), peers);
        var second = Policy(maxParents: 3).Select(Child(), peers);

        Assert.Equal(3, first.Count);
        Assert.Equal(first, second);
    }

    [Fact]
    public void UsefulPieces_CountsPiecesTheParentHasAndTheChildLacks()
    {
        Assert.Equal(2, ParentSelectionPolicy.UsefulPieces(TestManifests.Bitmap(10, 0, 1, 9), TestManifests.Bitmap(10, 1)));
        Assert.Equal(0, ParentSelectionPolicy.UsefulPieces(TestManifests.Bitmap(10, 1), TestManifests.Bitmap(10, 1, 2)));
        Assert.Equal(3, ParentSelectionPolicy.UsefulPieces(TestManifests.Bitmap(100, 0, 63, 64, 99), TestManifests.Bitmap(100, 63)));
    }
}
