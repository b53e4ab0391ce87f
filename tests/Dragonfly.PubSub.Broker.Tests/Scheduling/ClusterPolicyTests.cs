using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Contracts;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Broker.Tests.Scheduling;

/// <summary>Cluster and zone labels in parent selection: locality ranking and the cluster boundary.</summary>
public sealed class ClusterPolicyTests
{
    private const int Pieces = 16;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private ParentSelectionPolicy Policy(int maxParents = 6) => new(_time, new Random(42), maxParents);

    private static ChildProfile Child(string cluster, string zone = "", bool mayCross = true) =>
        new("child", new PieceBitmap(Pieces), cluster, zone, new HashSet<string>(), mayCross);

    private static ParentCandidate Peer(string id, string cluster, string zone = "", bool publisher = false) =>
        new(id, PieceBitmap.Full(Pieces), publisher, cluster, zone, 0, 4, []);

    [Fact]
    public void Select_RanksSameClusterThenUnlabelledThenOtherClusters_SameZoneFirstWithinEach()
    {
        var choices = Policy().Select(Child("a", "z1"),
        [
            Peer("other", "b"),
            Peer("other-z1", "b", "z1"),
            Peer("none", ""),
            Peer("none-z1", "", "z1"),
            Peer("same", "a"),
            Peer("same-z1", "a", "z1"),
        ]);

        Assert.Equal(["same-z1", "same", "none-z1", "none", "other-z1", "other"], choices.Select(c => c.PeerId));
    }

    [Fact]
    public void Select_ForAClusterMemberThatMayNotCross_LeavesOutOtherClusters_PublishersToo()
    {
        var choices = Policy().Select(Child("a", mayCross: false),
        [
            Peer("other", "b"),
            Peer("other-pub", "b", publisher: true),
            Peer("none", ""),
            Peer("seed", "", publisher: true),
            Peer("same", "a"),
        ]);

        Assert.Equal(["same", "none", "seed"], choices.Select(c => c.PeerId));
    }

    [Fact]
    public void Select_ForAnUnlabelledChild_EveryClusterMatches()
    {
        var choices = Policy().Select(Child("", mayCross: false), [Peer("a1", "a"), Peer("b1", "b")]);

        Assert.Equal(2, choices.Count);
    }

    [Fact]
    public void Select_ForTheGateway_OffersOtherClustersAfterItsOwn()
    {
        var choices = Policy(maxParents: 2).Select(Child("a"), [Peer("b1", "b"), Peer("a1", "a"), Peer("b2", "b")]);

        Assert.Equal("a1", choices[0].PeerId);
        Assert.StartsWith("b", choices[1].PeerId);
    }
}
