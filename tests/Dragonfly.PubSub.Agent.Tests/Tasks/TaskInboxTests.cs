using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Agent.Tasks;
using Dragonfly.PubSub.Agent.Tests.Pieces;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Agent.Tests.Swarm;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Origins;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Agent.Tests.Tasks;

/// <summary>
/// Each task owns one inbox from the moment it is registered: events the scheduler sends before
/// the task's download has started wait there, in order, and reach the download once it runs.
/// The scheduler is a fake stream; parents are real piece servers on loopback.
/// </summary>
[Collection(MetricsCollection.Name)]
public sealed class TaskInboxTests : IDisposable
{
    private const string Topic = "releases/app";
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Inbox_KeepsWhatArrivesBeforeItsReaderStarts_InOrder()
    {
        var inbox = new TaskInbox();
        inbox.Deliver(new SchedulerEvent { Parents = new ParentSet { Digest = "a" } });
        inbox.RequestRun();
        inbox.Deliver(new SchedulerEvent { TaskFailed = new TaskFailed { Digest = "a" } });
        inbox.Close();

        var read = new List<TaskMessage>();
        await foreach (var message in inbox.Reader.ReadAllAsync().WithCancellation(CancellationToken.None))
        {
            read.Add(message);
        }

        Assert.Collection(read,
            m => Assert.Equal(SchedulerEvent.EventOneofCase.Parents, Assert.IsType<TaskMessage.FromScheduler>(m).Event.EventCase),
            m => Assert.IsType<TaskMessage.RunRequested>(m),
            m => Assert.Equal(SchedulerEvent.EventOneofCase.TaskFailed, Assert.IsType<TaskMessage.FromScheduler>(m).Event.EventCase));
    }

    [Fact]
    public async Task Announcement_WhenParentsArriveBeforeTheManifest_DownloadsFromThem()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 12 * TestArtifact.SmallPiece + 5);
        var (parent, fake) = await ParentAndSchedulerAsync(artifact);
        await using var _ = parent;
        await using var agent = await AgentUnderTest.StartAsync(_dir.Combine("agent"), fake);

        agent.Tasks.OnAnnouncement(AnnouncementOf(artifact));
        // The task asks for its manifest; the scheduler already sends its parents.
        await SchedulerSessionRoutingTests.WaitUntilAsync(() => fake.ManifestRequests > 0);
        fake.Push(ParentsOf(artifact, parent));
        var state = agent.Tasks.GetTask(artifact.Digest)!.State;
        Assert.Equal(TaskStates.Pending, state);
        fake.ManifestGate.SetResult();

        await SchedulerSessionRoutingTests.WaitUntilAsync(() => agent.Tasks.GetTask(artifact.Digest)?.State == TaskStates.Succeeded);
        var output = Path.Combine(agent.Options.OutputDir, "releases", "app", artifact.Manifest.Name);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(output));
        Assert.Equal(artifact.Layout.PieceCount, parent.Server.RequestsServed);
        var info = agent.Tasks.GetTask(artifact.Digest)!;
        Assert.NotNull(info.AnnouncedAt);
        Assert.NotNull(info.FirstPieceRequestedAt);
        Assert.True(string.CompareOrdinal(info.AnnouncedAt, info.FirstPieceRequestedAt) <= 0, $"{info.AnnouncedAt} after {info.FirstPieceRequestedAt}");
    }

    [Fact]
    public async Task UrlTask_WhenTheSchedulerFailsItBeforeItsDownloadStarts_FailsWithTheSchedulersError()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 4 * TestArtifact.SmallPiece);
        var fake = FakeScheduler.WithClosedManifestGate();
        fake.Manifests[artifact.Manifest.Digest] = UrlManifestOf(artifact);
        await using var agent = await AgentUnderTest.StartAsync(_dir.Combine("agent"), fake);

        agent.Tasks.OnAnnouncement(AnnouncementOf(artifact) with { UrlTask = true });
        await SchedulerSessionRoutingTests.WaitUntilAsync(() => fake.ManifestRequests > 0);
        fake.Push(new SchedulerEvent { TaskFailed = new TaskFailed { Digest = artifact.Manifest.Digest, Error = "the origin answered 404" } });
        fake.ManifestGate.SetResult();

        await SchedulerSessionRoutingTests.WaitUntilAsync(() => agent.Tasks.GetTask(artifact.Digest)?.State == TaskStates.Failed);
        Assert.Equal("the origin answered 404", agent.Tasks.GetTask(artifact.Digest)!.Error);
    }

    /// <summary>
    /// A parent on loopback holding the whole artifact, and a scheduler that knows its manifest (on the test
    /// topic) but answers GetManifest only once the test opens <see cref="FakeScheduler.ManifestGate"/>.
    /// </summary>
    internal static async Task<(TestPeer Parent, FakeScheduler Fake)> ParentAndSchedulerAsync(TestArtifact artifact)
    {
        var parent = await TestPeer.StartAsync("parent-a");
        parent.Pieces.AddComplete(artifact.Digest, artifact.Layout, artifact.Path);
        var fake = FakeScheduler.WithClosedManifestGate();
        fake.Manifests[artifact.Manifest.Digest] = WithTopic(artifact.Manifest);
        return (parent, fake);
    }

    /// <summary>The broker's manifest of a URL task with the artifact's layout, on the test topic: no piece digests known yet.</summary>
    internal static Manifest UrlManifestOf(TestArtifact artifact)
    {
        var manifest = WithTopic(artifact.Manifest);
        manifest.UrlTask = true;
        manifest.PieceDigests.Clear();
        manifest.PieceDigests.AddRange(Enumerable.Repeat(ByteString.Empty, artifact.Layout.PieceCount));
        return manifest;
    }

    internal static Manifest WithTopic(Manifest manifest)
    {
        var copy = manifest.Clone();
        copy.Topic = Topic;
        return copy;
    }

    internal static Announcement AnnouncementOf(TestArtifact artifact) => new()
    {
        Digest = artifact.Manifest.Digest,
        Name = artifact.Manifest.Name,
        Topic = Topic,
        Size = artifact.Manifest.Size,
        PieceSize = artifact.Manifest.PieceSize,
        PieceCount = artifact.Layout.PieceCount,
        CreatedAt = DateTimeOffset.UtcNow,
    };

    internal static SchedulerEvent ParentsOf(TestArtifact artifact, TestPeer parent) => new()
    {
        Parents = new ParentSet
        {
            Digest = artifact.Manifest.Digest,
            Parents =
            {
                new Parent
                {
                    PeerId = parent.PeerId,
                    Host = "127.0.0.1",
                    Port = parent.Port,
                    Bitmap = ByteString.CopyFrom(PieceBitmap.Full(artifact.Layout.PieceCount).ToBytes()),
                },
            },
        },
    };

    /// <summary>The agent's task layer over a fake scheduler: store, content, fetcher and session in a temp data dir.</summary>
    internal sealed class AgentUnderTest : IAsyncDisposable
    {
        private AgentUnderTest(AgentOptions options, AgentStore store, PieceFetcher fetcher, SchedulerSession session, TaskManager tasks)
        {
            Options = options;
            Store = store;
            Fetcher = fetcher;
            Session = session;
            Tasks = tasks;
        }

        public AgentOptions Options { get; }
        public AgentStore Store { get; }
        public PieceFetcher Fetcher { get; }
        public SchedulerSession Session { get; }
        public TaskManager Tasks { get; }

        public static async Task<AgentUnderTest> StartAsync(string dataDir, FakeScheduler fake)
        {
            var options = new AgentOptions { DataDir = dataDir };
            var transfer = new TransferOptions { DataDir = dataDir };
            var store = AgentStore.Open(dataDir);
            var runtime = new AgentRuntime(store.PeerId);
            var fetcher = new PieceFetcher(transfer, NullLogger<PieceFetcher>.Instance);
            var session = new SchedulerSession(options, runtime, NullLogger<SchedulerSession>.Instance, fake);
            var tasks = new TaskManager(options, transfer, runtime, store, new ContentStore(dataDir), new LocalPieces(), fetcher, session,
                new OriginClient(OriginRegistry.CreateDefault()), NullLoggerFactory.Instance, TimeProvider.System);
            await session.StartAsync(CancellationToken.None);
            await tasks.StartAsync(CancellationToken.None);
            await fake.NextSentAsync(PeerEvent.EventOneofCase.Hello);
            return new AgentUnderTest(options, store, fetcher, session, tasks);
        }

        public async ValueTask DisposeAsync()
        {
            await Tasks.StopAsync(CancellationToken.None);
            await Session.StopAsync(CancellationToken.None);
            Tasks.Dispose();
            Session.Dispose();
            await Fetcher.DisposeAsync();
            Store.Dispose();
        }
    }
}
