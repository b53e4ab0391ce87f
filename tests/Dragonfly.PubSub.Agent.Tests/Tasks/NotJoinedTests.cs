using Dragonfly.PubSub.Agent.Tests.Pieces;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Agent.Tests.Swarm;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts.Scheduler;
using static Dragonfly.PubSub.Agent.Tests.Tasks.TaskInboxTests;

namespace Dragonfly.PubSub.Agent.Tests.Tasks;

/// <summary>
/// The broker says it does not count the agent in a running task (<see cref="NotJoined"/>): its Join was dropped,
/// because the broker did not know the task then (a URL task that moved from a lost broker). The agent joins again;
/// a URL task first asks the broker whether it knows the task now (and registers it again if it holds the
/// registration). Before this, eight agents asked a broker that ignored them for three minutes (CI, 2026-12-07).
/// The scheduler is a fake stream.
/// </summary>
[Collection(MetricsCollection.Name)]
public sealed class NotJoinedTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// The broker's Welcome, before anything else: the first answer on a stream is what starts the session (and with
    /// it a round of joining again), which must not be mistaken for the answer to NotJoined.
    /// </summary>
    private static async Task AnsweredAsync(AgentUnderTest agent, FakeScheduler fake)
    {
        var started = false;
        agent.Session.SessionStarted += () => Volatile.Write(ref started, true);
        fake.Push(new SchedulerEvent { Welcome = new Welcome { BrokerId = "broker-test" } });
        await SchedulerSessionRoutingTests.WaitUntilAsync(() => Volatile.Read(ref started));
    }

    [Fact]
    public async Task UrlTask_ToldNotJoined_AsksForTheTaskAgain_AndJoinsAgain()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 4 * TestArtifact.SmallPiece);
        var fake = new FakeScheduler();
        fake.Manifests[artifact.Manifest.Digest] = UrlManifestOf(artifact);
        await using var agent = await AgentUnderTest.StartAsync(_dir.Combine("agent"), fake);
        await AnsweredAsync(agent, fake);

        agent.Tasks.OnAnnouncement(AnnouncementOf(artifact) with { UrlTask = true });
        var first = await fake.NextSentAsync(PeerEvent.EventOneofCase.Join);
        Assert.Equal(artifact.Digest.ToString(), first.Join.Digest);
        Assert.Equal(TaskStates.Running, agent.Tasks.GetTask(artifact.Digest)!.State);
        var asked = fake.ManifestRequests;
        fake.Push(new SchedulerEvent { NotJoined = new NotJoined { Digest = artifact.Digest.ToString() } });

        var again = await fake.NextSentAsync(PeerEvent.EventOneofCase.Join);
        Assert.Equal(artifact.Digest.ToString(), again.Join.Digest);
        Assert.True(fake.ManifestRequests > asked, "the agent joined again without asking whether the broker knows the URL task");
        Assert.Equal(TaskStates.Running, agent.Tasks.GetTask(artifact.Digest)!.State);
    }

    [Fact]
    public async Task ContentTask_ToldNotJoined_JoinsAgain()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 4 * TestArtifact.SmallPiece);
        var fake = new FakeScheduler();
        fake.Manifests[artifact.Manifest.Digest] = WithTopic(artifact.Manifest);
        await using var agent = await AgentUnderTest.StartAsync(_dir.Combine("agent"), fake);
        await AnsweredAsync(agent, fake);

        agent.Tasks.OnAnnouncement(AnnouncementOf(artifact));
        await fake.NextSentAsync(PeerEvent.EventOneofCase.Join);

        fake.Push(new SchedulerEvent { NotJoined = new NotJoined { Digest = artifact.Digest.ToString() } });

        var again = await fake.NextSentAsync(PeerEvent.EventOneofCase.Join);
        Assert.Equal(artifact.Digest.ToString(), again.Join.Digest);
    }
}
