using System.Net;
using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Security;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Security;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using static Dragonfly.PubSub.Broker.Tests.Support.SessionOutbound;

namespace Dragonfly.PubSub.Broker.Tests.Swarm;

/// <summary>
/// Issue 11: the scheduler's memory stays bounded whatever a client sends or fails to read (attack 7),
/// and the parent sets carry the members' peer tickets (attack 4).
/// </summary>
public sealed class SchedulerBoundsTests
{
    private const int Pieces = 8;
    private readonly Manifest _manifest = TestManifests.Create("artifact", Pieces);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Session_WhoseAgentDoesNotRead_IsEndedWhenItsQueueIsFull()
    {
        var session = new PeerSession("slow", "10.0.0.1", 4000);
        for (var i = 0; i < PeerSession.MaxOutbound; i++)
        {
            Assert.True(session.Send(new SchedulerEvent { Welcome = new Welcome { BrokerId = "b" } }));
        }

        Assert.False(session.Send(new SchedulerEvent { Welcome = new Welcome { BrokerId = "b" } }));
        Assert.True(session.Closed.IsCancellationRequested, "a session whose queue is full should be ended");
        Assert.Equal("slow_reader", session.Dropped);
    }

    [Fact]
    public void Session_ThatSendsFasterThanTheSwarmApplies_IsEnded()
    {
        // The loops are not started: nothing is applied, as when one agent outruns them.
        var coordinator = Coordinator();
        var session = new PeerSession("flood", "10.0.0.1", 4000);
        var message = new PeerEvent { NeedParents = new NeedParents { Digest = _manifest.Digest } };
        for (var i = 0; i < PeerSession.MaxPending; i++)
        {
            coordinator.Handle(session, message);
        }
        Assert.Null(session.Dropped);

        coordinator.Handle(session, message);

        Assert.Equal("flood", session.Dropped);
        Assert.True(session.Closed.IsCancellationRequested);
    }

    [Fact]
    public void PieceFailed_NamingMadeUpParents_GrowsNoMap_AndAConnectedParentsHistoryGoesWithIt()
    {
        var coordinator = Coordinator();
        var publisher = Connect(coordinator, "pub");
        Join(coordinator, publisher, PieceBitmap.Full(Pieces), publisher: true);
        var child = Connect(coordinator, "a");
        Join(coordinator, child, new PieceBitmap(Pieces));

        for (var i = 0; i < 1000; i++)
        {
            Fail(coordinator, child, $"made-up-{i}");
        }
        Assert.Equal(0, coordinator.Load.FailurePeerCount);

        Fail(coordinator, child, "pub");
        Assert.Equal(1, coordinator.Load.FailurePeerCount);
        coordinator.Apply(new SwarmCommand.Disconnect(publisher));
        Assert.Equal(0, coordinator.Load.FailurePeerCount);
    }

    [Fact]
    public void ParentSet_CarriesATicketForTheMember_SignedByTheBroker_ThatAnotherPeerAccepts()
    {
        using var ca = FleetCa.Create("fleet");
        using var brokerCertificate = ca.IssueWithNewKey(new PeerIdentity("dfbroker", PeerRole.Broker, []), TimeSpan.FromDays(1), ["localhost"], [IPAddress.Loopback]);
        var coordinator = Coordinator(new PeerTicketIssuer(() => brokerCertificate, TimeProvider.System));
        var publisher = Connect(coordinator, "pub");
        Join(coordinator, publisher, PieceBitmap.Full(Pieces), publisher: true);
        var child = Connect(coordinator, "agent-a");

        Join(coordinator, child, new PieceBitmap(Pieces));

        var set = Assert.Single(Drain(child)).Parents;
        var serving = new TlsIdentity([ca.Certificate], ca.IssueWithNewKey(new PeerIdentity("pub", PeerRole.Agent, []), TimeSpan.FromDays(1)), TlsCiphers.Default);
        var ticket = new PeerTicketVerifier(() => serving).Verify(set.Ticket.Span, "agent-a", out var problem);
        Assert.True(ticket is not null, problem);
        Assert.Equal(Convert.FromHexString(_manifest.Digest["sha256:".Length..]), ticket.TaskKey);

        // The next parent set reuses it: no signature per parent set.
        coordinator.Apply(new SwarmCommand.Event(child, new PeerEvent { NeedParents = new NeedParents { Digest = _manifest.Digest } }));
        Assert.Equal(set.Ticket, Assert.Single(Drain(child)).Parents.Ticket);
    }

    [Fact]
    public void Join_OfATaskOnATopicTheCertificateDoesNotGrant_IsRefused_WithTaskFailed_AndNoTicket()
    {
        var coordinator = Coordinator();
        var publisher = Connect(coordinator, "pub");
        Join(coordinator, publisher, PieceBitmap.Full(Pieces), publisher: true);
        // _manifest is on releases/app.
        var outsider = new PeerSession("outsider", "10.0.0.2", 4000, uploadSlots: 4, maySource: false, topics: ["secret/#"]);
        var insider = new PeerSession("insider", "10.0.0.3", 4000, uploadSlots: 4, maySource: false, topics: ["releases/#"]);
        coordinator.Apply(new SwarmCommand.Connect(outsider));
        coordinator.Apply(new SwarmCommand.Connect(insider));

        Join(coordinator, outsider, new PieceBitmap(Pieces));
        Join(coordinator, insider, new PieceBitmap(Pieces));

        var refused = Assert.Single(Drain(outsider));
        Assert.Equal(SchedulerEvent.EventOneofCase.TaskFailed, refused.EventCase);
        Assert.Contains("topic 'releases/app'", refused.TaskFailed.Error, StringComparison.Ordinal);
        Assert.Equal(SchedulerEvent.EventOneofCase.Parents, Assert.Single(Drain(insider)).EventCase);
        Assert.DoesNotContain(Snapshot(coordinator).TaskPeers[_manifest.Digest], p => p.PeerId == "outsider");
    }

    private static SwarmSnapshot Snapshot(SwarmCoordinator coordinator)
    {
        var reply = new TaskCompletionSource<SwarmSnapshot>();
        coordinator.Apply(new SwarmCommand.Snapshot(reply));
        return reply.Task.Result;
    }

    private SwarmCoordinator Coordinator(PeerTicketIssuer? tickets = null) => new(
        "broker-test",
        digest => digest == _manifest.Digest ? _manifest : null,
        new ParentSelectionPolicy(_time, new Random(7), maxParents: 2),
        _time,
        NullLogger<SwarmCoordinator>.Instance,
        tickets: tickets);

    private static PeerSession Connect(SwarmCoordinator coordinator, string peerId)
    {
        var session = new PeerSession(peerId, "10.0.0.1", 4000, uploadSlots: 4);
        coordinator.Apply(new SwarmCommand.Connect(session));
        return session;
    }

    private void Join(SwarmCoordinator coordinator, PeerSession session, PieceBitmap bitmap, bool publisher = false) =>
        coordinator.Apply(new SwarmCommand.Event(session, new PeerEvent
        {
            Join = new JoinTask { Digest = _manifest.Digest, Bitmap = ByteString.CopyFrom(bitmap.ToBytes()), Publisher = publisher },
        }));

    private void Fail(SwarmCoordinator coordinator, PeerSession session, string parent) =>
        coordinator.Apply(new SwarmCommand.Event(session, new PeerEvent
        {
            PieceFailed = new PieceFailed { Digest = _manifest.Digest, Index = 0, ParentId = parent, Kind = FailureKind.Unreachable },
        }));
}
