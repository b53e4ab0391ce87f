using System.Security.Cryptography;
using System.Text;
using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Kind = Dragonfly.PubSub.Contracts.Scheduler.SchedulerEvent.EventOneofCase;
using static Dragonfly.PubSub.Broker.Tests.Support.SessionOutbound;

namespace Dragonfly.PubSub.Broker.Tests.Swarm;

/// <summary>
/// Across clusters: per task only one member of each cluster (its gateway: the first to join, re-elected
/// when it leaves) gets parents from other clusters; the rest of the cluster shares what it fetched.
/// </summary>
public sealed class ClusterGatewayTests
{
    private const int Pieces = 4;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly Manifest _manifest = TestManifests.Create("cluster-task", Pieces);
    private readonly SwarmCoordinator _coordinator;

    public ClusterGatewayTests()
    {
        _coordinator = new SwarmCoordinator(
            "broker-test",
            digest => digest == _manifest.Digest ? _manifest : null,
            new ParentSelectionPolicy(_time, new Random(3), maxParents: 4),
            _time,
            NullLogger<SwarmCoordinator>.Instance);
    }

    [Fact]
    public void OnlyTheFirstMemberOfAnotherCluster_GetsParentsAcrossTheBoundary()
    {
        var publisher = Connect("pub", "a");
        Join(publisher, PieceBitmap.Full(Pieces), publisher: true);
        var a1 = Connect("a1", "a");
        var b1 = Connect("b1", "b");
        var b2 = Connect("b2", "b");

        Join(a1);
        Join(b1);
        Join(b2);

        Assert.Equal(["pub"], Parents(a1));
        Assert.Equal(["pub"], Parents(b1)); // b's gateway
        Assert.Empty(Parents(b2));         // nobody in b holds anything yet
    }

    [Fact]
    public void TheRestOfTheCluster_GetsTheGatewayOnceItHoldsPieces_NotTheOtherCluster()
    {
        var publisher = Connect("pub", "a");
        Join(publisher, PieceBitmap.Full(Pieces), publisher: true);
        var a1 = Connect("a1", "a");
        Join(a1);
        Finished(a1, 0, 1);
        var b1 = Connect("b1", "b");
        var b2 = Connect("b2", "b");
        Join(b1);
        Join(b2);
        Drain(b2);

        Finished(a1, 2);   // news of cluster a: not for b2
        Assert.DoesNotContain(Drain(b2), m => m.EventCase == Kind.Parents);
        Finished(b1, 0);   // its own cluster's gateway: b2 is offered it

        Assert.Equal(["b1"], Parents(b2));
        Assert.Contains("a1", Parents(b1));
    }

    [Fact]
    public void WhenTheGatewayLeaves_TheNextToHaveJoinedTakesOver_AndGetsParentsAcrossAtOnce()
    {
        var publisher = Connect("pub", "a");
        Join(publisher, PieceBitmap.Full(Pieces), publisher: true);
        var b1 = Connect("b1", "b");
        var b2 = Connect("b2", "b");
        var b3 = Connect("b3", "b");
        Join(b1);
        Join(b2);
        Join(b3);
        Drain(b2);
        Drain(b3);

        Handle(b1, new PeerEvent { Leave = new LeaveTask { Digest = _manifest.Digest } });

        Assert.Equal(["pub"], Parents(b2));
        Assert.DoesNotContain(Drain(b3), m => m.EventCase == Kind.Parents);
        Handle(b3, new PeerEvent { NeedParents = new NeedParents { Digest = _manifest.Digest } });
        Assert.Empty(Parents(b3));
    }

    [Fact]
    public void AGatewayThatDisconnects_IsReplacedToo()
    {
        var publisher = Connect("pub", "a");
        Join(publisher, PieceBitmap.Full(Pieces), publisher: true);
        var b1 = Connect("b1", "b");
        var b2 = Connect("b2", "b");
        Join(b1);
        Join(b2);
        Drain(b2);

        _coordinator.Apply(new SwarmCommand.Disconnect(b1));

        Assert.Equal(["pub"], Parents(b2));
    }

    [Fact]
    public void UnlabelledPeers_MatchEveryCluster()
    {
        var seed = Connect("seed", "");
        Join(seed, PieceBitmap.Full(Pieces), publisher: true);
        var other = Connect("helper", "");
        Join(other);
        Finished(other, 0);
        var b1 = Connect("b1", "b");
        var b2 = Connect("b2", "b");
        Join(b1);

        Join(b2);

        Assert.Equal(["helper", "seed"], Parents(b2));
    }

    [Fact]
    public void EachClusterHasItsOwnGateway_PerTask()
    {
        var publisher = Connect("pub", "a");
        Join(publisher, PieceBitmap.Full(Pieces), publisher: true);
        var b1 = Connect("b1", "b");
        var c1 = Connect("c1", "c");
        var c2 = Connect("c2", "c");
        Join(b1);
        Join(c1);
        Join(c2);
        Finished(b1, 0);

        Assert.Contains("pub", Parents(c1));
        Assert.DoesNotContain(Drain(c2), m => m.EventCase == Kind.Parents && m.Parents.Parents.Any(p => p.PeerId is "pub" or "b1"));
        Handle(c2, new PeerEvent { NeedParents = new NeedParents { Digest = _manifest.Digest } });
        Assert.Empty(Parents(c2));
    }

    private PeerSession Connect(string peerId, string cluster)
    {
        var session = new PeerSession(peerId, "10.0.0.1", 4000, cluster: cluster, uploadSlots: 4);
        _coordinator.Apply(new SwarmCommand.Connect(session));
        return session;
    }

    private void Handle(PeerSession session, PeerEvent message) => _coordinator.Apply(new SwarmCommand.Event(session, message));

    private void Join(PeerSession session, PieceBitmap? bitmap = null, bool publisher = false) => Handle(session, new PeerEvent
    {
        Join = new JoinTask
        {
            Digest = _manifest.Digest,
            Bitmap = ByteString.CopyFrom((bitmap ?? new PieceBitmap(Pieces)).ToBytes()),
            Publisher = publisher,
        },
    });

    private void Finished(PeerSession session, params int[] indexes) => Handle(session, new PeerEvent
    {
        PiecesFinished = new PiecesFinished { Digest = _manifest.Digest, Indexes = { indexes } },
    });

    /// <summary>The peers of the latest ParentSet the session was sent, sorted (empty when it got none or an empty one).</summary>
    private static List<string> Parents(PeerSession session)
    {
        var sets = Drain(session).Where(m => m.EventCase == Kind.Parents).ToList();
        return sets.Count == 0 ? [] : [.. sets[^1].Parents.Parents.Select(p => p.PeerId).Order(StringComparer.Ordinal)];
    }
}
