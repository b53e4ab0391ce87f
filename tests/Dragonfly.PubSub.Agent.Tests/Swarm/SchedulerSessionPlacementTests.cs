using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Agent.Tests.Swarm;

/// <summary>
/// Several brokers (<c>--broker a,b,c</c>) over fake streams: each task joins the broker rendezvous hashing
/// ranks first, and when that broker dies it joins the next one with the pieces it holds.
/// </summary>
public sealed class SchedulerSessionPlacementTests : IDisposable
{
    private static readonly string[] Names = ["a:8002", "b:8002", "c:8002"];

    private readonly TempDirectory _dir = new();
    private readonly FakeScheduler[] _brokers = [new(), new(), new()];
    private readonly SchedulerSession _session;

    public SchedulerSessionPlacementTests()
    {
        _session = new SchedulerSession(new AgentOptions { DataDir = _dir.Path }, new AgentRuntime("agent-test"),
            NullLogger<SchedulerSession>.Instance, Names.Select((name, i) => (name, (Dragonfly.PubSub.Contracts.Scheduler.Scheduler.SchedulerClient)_brokers[i])).ToList());
    }

    public void Dispose()
    {
        _session.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public void RendezvousOrder_IsTheSameWhateverTheOrderOfTheList_AndSpreadsTasks()
    {
        var tasks = Enumerable.Range(0, 300).Select(i => $"sha256:{i:x64}").ToList();
        var owners = tasks.Select(t => RendezvousHash.Order(Names, n => n, t)[0]).ToList();

        Assert.Equal(owners, tasks.Select(t => RendezvousHash.Order(Names.AsEnumerable().Reverse(), n => n, t)[0]));
        Assert.All(Names, name => Assert.InRange(owners.Count(o => o == name), 60, 140));
        // Losing a broker moves only its own tasks, each to its second choice.
        var withoutFirst = tasks.Select(t => RendezvousHash.Order(Names.Skip(1), n => n, t)[0]).ToList();
        for (var i = 0; i < tasks.Count; i++)
        {
            Assert.Equal(owners[i] == Names[0] ? RendezvousHash.Order(Names, n => n, tasks[i])[1] : owners[i], withoutFirst[i]);
        }
    }

    [Fact]
    public async Task Join_GoesToTheOwner_AndWhenItDies_TheTaskJoinsTheNextBroker_WithItsPieces()
    {
        var task = ContentDigest.Parse("sha256:" + new string('e', 64));
        var have = new PieceBitmap(8);
        have.Set(1);
        have.Set(5);
        var members = new List<JoinTask>();
        _session.Membership = () => members.ToList();
        var restarted = 0;
        _session.SessionStarted += () => Interlocked.Increment(ref restarted);
        await _session.StartAsync(CancellationToken.None);
        foreach (var broker in _brokers)
        {
            await broker.NextSentAsync(PeerEvent.EventOneofCase.Hello);
            broker.Push(new SchedulerEvent { Welcome = new Welcome { BrokerId = "b" } });
        }
        await SchedulerSessionRoutingTests.WaitUntilAsync(() => Volatile.Read(ref restarted) == 3);

        var order = RendezvousHash.Order(Enumerable.Range(0, 3), i => Names[i], task.ToString());
        _session.Join(task, have, publisher: false);
        members.Add(SchedulerSession.NewJoin(task, have, publisher: false));
        var first = await _brokers[order[0]].NextSentAsync(PeerEvent.EventOneofCase.Join);
        Assert.Equal(task.ToString(), first.Join.Digest);

        _brokers[order[0]].Kill();

        var moved = await _brokers[order[1]].NextSentAsync(PeerEvent.EventOneofCase.Join);
        Assert.Equal(task.ToString(), moved.Join.Digest);
        Assert.Equal(have.ToBytes(), moved.Join.Bitmap.ToByteArray());
        await SchedulerSessionRoutingTests.WaitUntilAsync(() => Volatile.Read(ref restarted) == 4);
        // Reports follow the task to its new broker.
        ((Dragonfly.PubSub.Transfer.Swarm.ISwarmReporter)_session).PiecesFinished(task, [2]);
        var report = await _brokers[order[1]].NextSentAsync(PeerEvent.EventOneofCase.PiecesFinished);
        Assert.Equal(new[] { 2 }, report.PiecesFinished.Indexes);
        Assert.Equal(string.Join(",", Names), _session.BrokerAddress);
        Assert.True(_session.Connected);
        await _session.StopAsync(CancellationToken.None);
    }
}
