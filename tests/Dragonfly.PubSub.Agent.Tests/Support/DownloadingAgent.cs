using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Dragonfly.PubSub.Agent.Tests.Support;

/// <summary>The download side of an agent (store, content, fetcher) in a temp data directory.</summary>
public sealed class DownloadingAgent : IAsyncDisposable
{
    private readonly TempDirectory _dir = new();

    /// <summary>
    /// Without <paramref name="options"/>, the record is saved after every batch of pieces (no save interval): these
    /// downloads last a fraction of a second, and the tests watch their progress while they run.
    /// </summary>
    public DownloadingAgent(TransferOptions? options = null)
    {
        Options = options ?? new TransferOptions { DataDir = _dir.Path, RecordSaveInterval = TimeSpan.Zero };
        Store = AgentStore.Open(_dir.Path);
        Content = new ContentStore(_dir.Path);
        Fetcher = new PieceFetcher(Options, NullLogger<PieceFetcher>.Instance);
    }

    public TransferOptions Options { get; }
    public AgentStore Store { get; }
    public ContentStore Content { get; }
    public LocalPieces Pieces { get; } = new();
    public PieceFetcher Fetcher { get; }
    public RecordingReporter Reporter { get; } = new();
    public string DataDir => _dir.Path;

    public TaskRecord NewRecord(TestArtifact artifact) => new()
    {
        Id = artifact.Manifest.Digest,
        Name = artifact.Manifest.Name,
        Topic = artifact.Manifest.Topic,
        State = TaskState.Pending,
    };

    public TaskDownloader CreateDownloader(TestArtifact artifact, TaskRecord? record = null, int seed = 7,
        WholeFileProof proof = WholeFileProof.Sha256, TimeProvider? time = null) =>
        new(artifact.Manifest, record ?? NewRecord(artifact), Store, Content, Pieces, Fetcher, Reporter, Options,
            NullLogger.Instance, time ?? TimeProvider.System, new Random(seed), proof: proof);

    /// <summary>A downloader of any manifest (a URL task's), with a fresh record unless one is given.</summary>
    public TaskDownloader CreateDownloader(Manifest manifest, TaskRecord? record = null, int seed = 7, long downloadLimit = 0,
        WholeFileProof proof = WholeFileProof.Sha256, TimeProvider? time = null) =>
        new(manifest, record ?? new TaskRecord { Id = manifest.Digest, Name = manifest.Name, Topic = manifest.Topic }, Store, Content,
            Pieces, Fetcher, Reporter, Options, NullLogger.Instance, time ?? TimeProvider.System, new Random(seed), downloadLimit, proof);

    public async ValueTask DisposeAsync()
    {
        await Fetcher.DisposeAsync();
        Store.Dispose();
        _dir.Dispose();
    }
}
