using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

/// <summary>Whole downloads over loopback: real piece servers on 127.0.0.1, small pieces, small files.</summary>
[Collection(MetricsCollection.Name)]
public sealed class TaskDownloaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Download_FromOneCompleteParent_ProducesIdenticalBytes()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 20 * TestArtifact.SmallPiece + 1234);
        await using var parent = await TestPeer.StartAsync("parent-a");
        parent.Pieces.AddComplete(artifact.Digest, artifact.Layout, artifact.Path);
        await using var agent = new DownloadingAgent();
        var record = agent.NewRecord(artifact);
        var downloader = agent.CreateDownloader(artifact, record);
        downloader.UpdateParents([parent.AsParent(PieceBitmap.Full(artifact.Layout.PieceCount))]);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        var path = agent.Content.ContentPath(artifact.Digest);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(path));
        Assert.Equal(artifact.Manifest.Digest, TestArtifact.Sha256Of(path));
        Assert.False(File.Exists(agent.Content.PartialPath(artifact.Digest)));
        Assert.Equal(new DownloadProgress(21, 21, artifact.Bytes.Length, artifact.Bytes.Length), downloader.Progress);
        var saved = agent.Store.Find(artifact.Digest)!;
        Assert.Equal(TaskState.Succeeded, saved.State);
        Assert.Equal(artifact.Bytes.Length, saved.BytesFromPeers);
        Assert.True(PieceBitmap.FromBytes(saved.Bitmap, 21).IsComplete);
        Assert.True(agent.Pieces.IsComplete(artifact.Digest));
        Assert.Equal(Enumerable.Range(0, 21), agent.Reporter.Finished.Order());
        Assert.Empty(agent.Reporter.Failures);
        await TestTimeout.UntilAsync(() => parent.Server.RequestsServed == 21, "21 requests served");
    }

    [Fact]
    public async Task Download_WhenPeerSendsCorruptPieces_RefetchesFromAnotherPeerAndBansIt()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 16 * TestArtifact.SmallPiece);
        await using var good = await TestPeer.StartAsync("good");
        await using var bad = await TestPeer.StartAsync("bad");
        good.Pieces.AddComplete(artifact.Digest, artifact.Layout, artifact.Path);
        bad.Pieces.AddComplete(artifact.Digest, artifact.Layout, artifact.WriteCorruptCopy(_dir.Path));
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(artifact);
        var full = PieceBitmap.Full(artifact.Layout.PieceCount);
        downloader.UpdateParents([bad.AsParent(full), good.AsParent(full)]);
        var failuresBefore = AgentMetrics.PieceVerifyFailures.Value;

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(artifact.Digest)));
        var corrupt = agent.Reporter.Failures.Where(f => f.Kind == FailureKind.Corrupt).ToList();
        Assert.NotEmpty(corrupt);
        Assert.All(corrupt, f => Assert.Equal("bad", f.ParentId));
        Assert.Equal(corrupt.Count, (int)(AgentMetrics.PieceVerifyFailures.Value - failuresBefore));
        // Banned after its first corrupt piece: only the requests already in flight could reach it.
        Assert.True(bad.Server.RequestsServed <= 3, $"bad parent served {bad.Server.RequestsServed} pieces");
    }

    [Fact]
    public async Task Download_ResumingFromHalfTheBitmap_FetchesOnlyTheOtherHalf()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 20 * TestArtifact.SmallPiece);
        var layout = artifact.Layout;
        await using var parent = await TestPeer.StartAsync("parent");
        parent.Pieces.AddComplete(artifact.Digest, layout, artifact.Path);
        await using var agent = new DownloadingAgent();

        // An earlier run wrote and persisted the even pieces.
        var have = new PieceBitmap(layout.PieceCount);
        var partial = agent.Content.PartialPath(artifact.Digest);
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        var bytes = new byte[artifact.Bytes.Length];
        for (var i = 0; i < layout.PieceCount; i += 2)
        {
            have.Set(i);
            Array.Copy(artifact.Bytes, layout.OffsetOf(i), bytes, layout.OffsetOf(i), layout.LengthOf(i));
        }
        await File.WriteAllBytesAsync(partial, bytes);
        var record = agent.NewRecord(artifact);
        record.PieceSize = layout.PieceSize;
        record.PieceCount = layout.PieceCount;
        record.Bitmap = have.ToBytes();
        record.BytesFromPeers = 10 * layout.PieceSize;
        record.State = TaskState.Running;
        agent.Store.Save(record);

        var downloader = agent.CreateDownloader(artifact, agent.Store.Find(artifact.Digest));
        Assert.Equal(10, downloader.Progress.CompletedPieces);
        downloader.UpdateParents([parent.AsParent(PieceBitmap.Full(layout.PieceCount))]);
        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(10, parent.Server.RequestsServed);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => 2 * i + 1), agent.Reporter.Finished.Order());
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(artifact.Digest)));
        Assert.Equal(artifact.Bytes.Length, agent.Store.Find(artifact.Digest)!.BytesFromPeers);
    }

    [Fact]
    public async Task Download_WhenAKeptPieceIsDamagedOnDisk_FetchesItAgain()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 8 * TestArtifact.SmallPiece);
        var layout = artifact.Layout;
        await using var parent = await TestPeer.StartAsync("parent");
        parent.Pieces.AddComplete(artifact.Digest, layout, artifact.Path);
        await using var agent = new DownloadingAgent();
        var partial = agent.Content.PartialPath(artifact.Digest);
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        var bytes = (byte[])artifact.Bytes.Clone();
        bytes[layout.OffsetOf(3) + 10] ^= 1; // the database says piece 3 is done, the disk disagrees
        await File.WriteAllBytesAsync(partial, bytes);
        var record = agent.NewRecord(artifact);
        record.PieceSize = layout.PieceSize;
        record.PieceCount = layout.PieceCount;
        record.Bitmap = PieceBitmap.Full(layout.PieceCount).ToBytes();

        var downloader = agent.CreateDownloader(artifact, record);
        downloader.UpdateParents([parent.AsParent(PieceBitmap.Full(layout.PieceCount))]);
        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(1, parent.Server.RequestsServed);
        Assert.Equal([3], agent.Reporter.Finished);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(artifact.Digest)));
    }

    [Fact]
    public async Task Download_UsesLastResortParentOnlyForPiecesNoOtherParentHolds()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 24 * TestArtifact.SmallPiece);
        var layout = artifact.Layout;
        await using var peer = await TestPeer.StartAsync("peer");
        await using var publisher = await TestPeer.StartAsync("publisher");
        var peerHas = new PieceBitmap(layout.PieceCount);
        for (var i = 0; i < 16; i++)
        {
            peerHas.Set(i);
        }
        peer.Pieces.AddPartial(artifact.Digest, layout, artifact.Path, peerHas);
        publisher.Pieces.AddComplete(artifact.Digest, layout, artifact.Path);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(artifact);
        downloader.UpdateParents([publisher.AsParent(PieceBitmap.Full(layout.PieceCount), lastResort: true), peer.AsParent(peerHas)]);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(16, peer.Server.RequestsServed);
        Assert.Equal(8, publisher.Server.RequestsServed);
        Assert.Equal(0, peer.Server.RequestsMissing);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(artifact.Digest)));
    }

    [Fact]
    public async Task Download_WhenParentLacksAnnouncedPiece_ReportsMissingAndAsksForParents()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 4 * TestArtifact.SmallPiece);
        var layout = artifact.Layout;
        await using var liar = await TestPeer.StartAsync("liar");
        var actual = new PieceBitmap(layout.PieceCount);
        actual.Set(0);
        liar.Pieces.AddPartial(artifact.Digest, layout, artifact.Path, actual);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(artifact);
        downloader.UpdateParents([liar.AsParent(PieceBitmap.Full(layout.PieceCount))]);
        using var cts = new CancellationTokenSource();
        var run = downloader.RunAsync(cts.Token);

        await WaitUntilAsync(() => agent.Reporter.NeedParentsCalls > 0 && downloader.Progress.CompletedPieces == 1);
        Assert.Equal(3, agent.Reporter.Failures.Count(f => f.Kind == FailureKind.Missing && f.ParentId == "liar"));

        // A parent that holds the rest arrives: the download completes.
        await using var good = await TestPeer.StartAsync("good");
        good.Pieces.AddComplete(artifact.Digest, layout, artifact.Path);
        downloader.UpdateParents([good.AsParent(PieceBitmap.Full(layout.PieceCount))]);
        var outcome = await run.Within();
        Assert.True(outcome.Succeeded, outcome.Error);
    }

    [Fact]
    public async Task Download_WhenParentIsUnreachable_ReportsAndUsesAnother()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 6 * TestArtifact.SmallPiece);
        var layout = artifact.Layout;
        await using var good = await TestPeer.StartAsync("good");
        good.Pieces.AddComplete(artifact.Digest, layout, artifact.Path);
        int closedPort;
        await using (var gone = await TestPeer.StartAsync("gone"))
        {
            closedPort = gone.Port;
        }
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(artifact);
        var full = PieceBitmap.Full(layout.PieceCount);
        downloader.UpdateParents([new("gone", "127.0.0.1", closedPort, full, false), good.AsParent(full)]);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Contains(agent.Reporter.Failures, f => f.Kind == FailureKind.Unreachable && f.ParentId == "gone");
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(artifact.Digest)));
    }

    [Fact]
    public async Task Download_CancelledMidway_ResumesWithoutRefetchingPersistedPieces()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 32 * TestArtifact.SmallPiece);
        var layout = artifact.Layout;
        // 2 MiB/s upload: 32 pieces take about a second, long enough to stop in the middle.
        await using var slow = await TestPeer.StartAsync("slow", new TransferOptions { DataDir = _dir.Path, UploadLimit = 2 << 20 });
        slow.Pieces.AddComplete(artifact.Digest, layout, artifact.Path);
        await using var agent = new DownloadingAgent();
        var record = agent.NewRecord(artifact);
        var first = agent.CreateDownloader(artifact, record);
        first.UpdateParents([slow.AsParent(PieceBitmap.Full(layout.PieceCount))]);
        using var cts = new CancellationTokenSource();
        first.ProgressChanged += p =>
        {
            if (p.CompletedPieces >= 4)
            {
                cts.Cancel();
            }
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.RunAsync(cts.Token).Within());

        var kept = agent.Store.Find(artifact.Digest)!;
        Assert.Equal(TaskState.Running, kept.State);
        var persisted = PieceBitmap.FromBytes(kept.Bitmap, layout.PieceCount).CountSet;
        Assert.InRange(persisted, 4, layout.PieceCount - 1);
        var servedBefore = slow.Server.RequestsServed;

        await using var fast = await TestPeer.StartAsync("fast");
        fast.Pieces.AddComplete(artifact.Digest, layout, artifact.Path);
        var second = agent.CreateDownloader(artifact, kept);
        second.UpdateParents([fast.AsParent(PieceBitmap.Full(layout.PieceCount))]);
        var outcome = await second.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(layout.PieceCount - persisted, fast.Server.RequestsServed);
        Assert.True(servedBefore >= persisted);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(artifact.Digest)));
    }

    [Fact]
    public async Task FinishedPieces_AreReportedAtOnce_AndRecordedWhenTheSaveIntervalHasPassed()
    {
        // A clock that moves only when told: a piece whose report waited for a timer would never reach the
        // scheduler; the record (and the progress it backs) waits for the save interval, then takes both.
        // The parent offers half the pieces, so the download is still running when they must be visible.
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 4 * TestArtifact.SmallPiece);
        await using var parent = await TestPeer.StartAsync("half");
        await using var agent = new DownloadingAgent(new TransferOptions { DataDir = Path.Combine(_dir.Path, "agent") });
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var downloader = agent.CreateDownloader(artifact, time: clock);
        var half = new PieceBitmap(4);
        half.Set(0);
        half.Set(1);
        parent.Pieces.AddPartial(artifact.Digest, artifact.Layout, artifact.Path, half);
        downloader.UpdateParents([parent.AsParent(half)]);
        using var stop = new CancellationTokenSource();
        var run = downloader.RunAsync(stop.Token);

        await TestTimeout.UntilAsync(() => agent.Reporter.Finished.Count >= 2, "the scheduler being told of both pieces");
        Assert.Equal([0, 1], agent.Reporter.Finished.Order());
        Assert.Equal(0, PieceBitmap.FromBytes(agent.Store.Find(artifact.Digest)!.Bitmap, 4).CountSet);
        Assert.Equal(0, downloader.Progress.CompletedPieces);

        clock.Advance(TaskDownloader.TickInterval); // past the default save interval
        await TestTimeout.UntilAsync(() => downloader.Progress.CompletedPieces == 2, "the tick after the save interval saving both pieces");
        Assert.Equal(2, PieceBitmap.FromBytes(agent.Store.Find(artifact.Digest)!.Bitmap, 4).CountSet);
        Assert.False(run.IsCompleted);

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.Within());
    }

    [Fact]
    public async Task Download_WhenManifestDoesNotMatchContentId_Fails()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 4 * TestArtifact.SmallPiece);
        var other = await TestArtifact.CreateAsync(_dir.Path, 100, seed: 2);
        // Piece digests of the real bytes under someone else's content id.
        var forged = artifact.Manifest.Clone();
        forged.Digest = other.Manifest.Digest;
        await using var parent = await TestPeer.StartAsync("parent");
        parent.Pieces.AddComplete(other.Digest, artifact.Layout, artifact.Path);
        await using var agent = new DownloadingAgent();
        var record = new TaskRecord { Id = forged.Digest, Name = forged.Name, Topic = forged.Topic };
        var downloader = new TaskDownloader(forged, record, agent.Store, agent.Content, agent.Pieces,
            agent.Fetcher, agent.Reporter, agent.Options, NullLogger.Instance, TimeProvider.System);
        downloader.UpdateParents([parent.AsParent(PieceBitmap.Full(artifact.Layout.PieceCount))]);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.False(outcome.Succeeded);
        Assert.Contains("content id", outcome.Error);
        Assert.Equal(TaskState.Failed, agent.Store.Find(other.Digest)!.State);
        Assert.False(agent.Content.HasContent(other.Digest));
        Assert.False(File.Exists(agent.Content.PartialPath(other.Digest)));
    }

    [Fact]
    public async Task Download_OfEmptyFile_SucceedsWithoutParents()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 0);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(artifact);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Empty(await File.ReadAllBytesAsync(agent.Content.ContentPath(artifact.Digest)));
    }

    [Fact]
    public async Task Download_WhenContentIsAlreadyStored_CompletesAtOnce()
    {
        await using var agent = new DownloadingAgent();
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 3 * TestArtifact.SmallPiece);
        var manifest = await agent.Content.ImportAsync(artifact.Path, "artifact.bin", TestArtifact.SmallPiece, null, CancellationToken.None);
        Assert.Equal(artifact.Manifest.Digest, manifest.Digest);
        var downloader = agent.CreateDownloader(artifact);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded);
        Assert.Equal(3, downloader.Progress.CompletedPieces);
        Assert.True(agent.Pieces.IsComplete(artifact.Digest));
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TestTimeout.Default;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }
}
