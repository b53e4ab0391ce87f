using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts.Scheduler;
using static Dragonfly.PubSub.Broker.Tests.Support.SessionOutbound;

namespace Dragonfly.PubSub.Broker.Tests.Scheduling;

public sealed class PieceNewsTests
{
    private readonly PeerSession _child = new("child", "10.0.0.1", 4100) { MergesPieceNews = true };
    private readonly PeerSession _other = new("other", "10.0.0.2", 4200) { MergesPieceNews = true };
    private readonly PieceNews _news = new();

    [Fact]
    public void Flush_SendsOneEventPerChildAndTask_NamingEveryParentOnce()
    {
        _news.Add(_child, "sha256:a", "p1", [1]);
        _news.Add(_child, "sha256:a", "p2", [2, 3]);
        _news.Add(_child, "sha256:a", "p1", [4]);
        _news.Add(_child, "sha256:b", "p1", [7]);
        _news.Add(_other, "sha256:a", "p1", [1]);
        Assert.Empty(Drain(_child)); // held until the batch ends

        _news.Flush();

        var events = Drain(_child).Select(m => m.PieceAvailable).ToList();
        Assert.Equal(2, events.Count);
        var a = events.Single(e => e.Digest == "sha256:a");
        Assert.Equal(("p1", new[] { 1, 4 }), (a.PeerId, a.Indexes.ToArray()), TupleOfArrays);
        var more = Assert.Single(a.More);
        Assert.Equal(("p2", new[] { 2, 3 }), (more.PeerId, more.Indexes.ToArray()), TupleOfArrays);
        var b = events.Single(e => e.Digest == "sha256:b");
        Assert.Equal(("p1", new[] { 7 }), (b.PeerId, b.Indexes.ToArray()), TupleOfArrays);
        Assert.Empty(b.More);
        Assert.Equal([1], Assert.Single(Drain(_other)).PieceAvailable.Indexes);

        _news.Flush(); // nothing held any more
        Assert.Empty(Drain(_child));
    }

    private static readonly IEqualityComparer<(string, int[])> TupleOfArrays = EqualityComparer<(string, int[])>.Create(
        (x, y) => x.Item1 == y.Item1 && x.Item2.SequenceEqual(y.Item2), x => x.Item1.GetHashCode());
}
