using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Agent.Tests.Swarm;

/// <summary>The scheduler session over a fake stream: every event goes by task id into that task's inbox.</summary>
public sealed class SchedulerSessionRoutingTests : IDisposable
{
    private static readonly ContentDigest TaskA = ContentDigest.Parse("sha256:" + new string('a', 64));
    private static readonly ContentDigest TaskB = ContentDigest.Parse("sha256:" + new string('b', 64));

    private readonly TempDirectory _dir = new();
    private readonly FakeScheduler _fake = new();
    private readonly SchedulerSession _session;

    public SchedulerSessionRoutingTests()
    {
        _session = new SchedulerSession(new AgentOptions { DataDir = _dir.Path }, new AgentRuntime("agent-test"),
            NullLogger<SchedulerSession>.Instance, _fake);
    }

    public void Dispose()
    {
        _session.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task Events_GoByTaskIdIntoTheRoutedInbox_InOrder_AndOthersToUnrouted()
    {
        var inboxA = new RecordingInbox();
        var inboxB = new RecordingInbox();
        var unrouted = new System.Collections.Concurrent.ConcurrentQueue<SchedulerEvent>();
        _session.Unrouted += unrouted.Enqueue;
        _session.Route(TaskA, inboxA);
        _session.Route(TaskB, inboxB);
        var other = ContentDigest.Parse("sha256:" + new string('c', 64));
        await _session.StartAsync(CancellationToken.None);
        await _fake.NextSentAsync(PeerEvent.EventOneofCase.Hello);

        _fake.Push(new SchedulerEvent { Welcome = new Welcome { BrokerId = "broker-1" } });
        _fake.Push(new SchedulerEvent { Parents = new ParentSet { Digest = TaskA.ToString() } });
        _fake.Push(new SchedulerEvent { PieceAvailable = new PieceAvailable { Digest = TaskB.ToString(), PeerId = "p", Indexes = { 3 } } });
        _fake.Push(new SchedulerEvent { TaskFailed = new TaskFailed { Digest = TaskA.ToString(), Error = "gone" } });
        _fake.Push(new SchedulerEvent { FetchSource = new FetchSource { Manifest = new Manifest { Digest = other.ToString() }, Url = "http://x/y" } });
        _fake.Push(new SchedulerEvent { PieceDigests = new PieceDigests { Digest = TaskA.ToString() } });
        await WaitUntilAsync(() => inboxA.Received.Count == 3 && unrouted.Count == 1);

        Assert.Equal(
            [SchedulerEvent.EventOneofCase.Parents, SchedulerEvent.EventOneofCase.TaskFailed, SchedulerEvent.EventOneofCase.PieceDigests],
            inboxA.Received.Select(e => e.EventCase));
        Assert.Equal(3, Assert.Single(inboxB.Received).PieceAvailable.Indexes.Single());
        Assert.Equal(other.ToString(), Assert.Single(unrouted).FetchSource.Manifest.Digest);
        await _session.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Hello_SaysTheAgentReadsMergedPieceNews()
    {
        await _session.StartAsync(CancellationToken.None);

        var hello = await _fake.NextSentAsync(PeerEvent.EventOneofCase.Hello);

        Assert.True(hello.Hello.MergedPieceNews); // TaskManager reads PieceAvailable.more
        Assert.True(hello.Hello.ParentPieceMaps); // downloads poll their parents' piece maps (--piece-news peer, the default)
        await _session.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Unroute_OfAnOlderInbox_KeepsTheNewerOne_AndUnroutedEventsGoToTheHandler()
    {
        var older = new RecordingInbox();
        var newer = new RecordingInbox();
        var unrouted = new System.Collections.Concurrent.ConcurrentQueue<SchedulerEvent>();
        _session.Unrouted += unrouted.Enqueue;
        _session.Route(TaskA, older);
        _session.Route(TaskA, newer);
        _session.Unroute(TaskA, older);
        await _session.StartAsync(CancellationToken.None);
        await _fake.NextSentAsync(PeerEvent.EventOneofCase.Hello);

        _fake.Push(new SchedulerEvent { Parents = new ParentSet { Digest = TaskA.ToString() } });
        await WaitUntilAsync(() => newer.Received.Count == 1);
        _session.Unroute(TaskA, newer);
        _fake.Push(new SchedulerEvent { Parents = new ParentSet { Digest = TaskA.ToString() } });
        await WaitUntilAsync(() => unrouted.Count == 1);

        Assert.Empty(older.Received);
        Assert.Single(newer.Received);
        await _session.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Connect_SaysHelloThenJoinsEveryMemberTask()
    {
        _session.Membership = () => [SchedulerSession.NewJoin(TaskA, PieceBitmap.Full(2), publisher: true)];

        await _session.StartAsync(CancellationToken.None);

        var hello = await _fake.NextSentAsync(PeerEvent.EventOneofCase.Hello);
        Assert.Equal("agent-test", hello.Hello.PeerId);
        var join = await _fake.NextSentAsync(PeerEvent.EventOneofCase.Join);
        Assert.Equal(TaskA.ToString(), join.Join.Digest);
        Assert.True(join.Join.Publisher);
        await _session.StopAsync(CancellationToken.None);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TestTimeout.Default;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }
}
