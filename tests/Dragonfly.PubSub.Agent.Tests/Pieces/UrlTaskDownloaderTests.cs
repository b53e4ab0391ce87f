using System.Security.Cryptography;
using System.Text;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Sources;
using Dragonfly.PubSub.Transfer.Storage;
using Google.Protobuf;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

/// <summary>
/// URL tasks: digests learned while downloading, the download as the task's source (an in-memory
/// origin), and peers on loopback piece servers.
/// </summary>
[Collection(MetricsCollection.Name)]
public sealed class UrlTaskDownloaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Source_AloneFetchesEverything_ReportsDigestsAndSourceDone()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 20 * TestArtifact.SmallPiece + 777);
        var manifest = UrlManifest(artifact);
        await using var agent = new DownloadingAgent();
        var source = new MemorySource(artifact.Bytes);
        var downloader = agent.CreateDownloader(manifest);
        downloader.FetchFromSource(source, ContentDigest.Parse(artifact.Manifest.Digest));
        var sourceBytesBefore = AgentMetrics.DownloadBytesFromSource.Value;

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        var content = ContentDigest.Parse(artifact.Manifest.Digest);
        Assert.Equal(content, outcome.Content);
        var task = ContentDigest.Parse(manifest.Digest);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(task)));
        Assert.Equal(21, source.Reads);
        var sourced = agent.Reporter.Sourced.OrderBy(s => s.Index).ToList();
        Assert.Equal(Enumerable.Range(0, 21), sourced.Select(s => s.Index));
        Assert.All(sourced, s => Assert.Equal(artifact.Manifest.PieceDigests[s.Index].ToByteArray(), s.Digest));
        Assert.Empty(agent.Reporter.Finished);
        Assert.Equal([content], agent.Reporter.SourcesDone);
        Assert.Empty(agent.Reporter.SourceFailures);
        Assert.Equal(new DownloadProgress(21, 21, artifact.Bytes.Length, 0, artifact.Bytes.Length), downloader.Progress);
        Assert.Equal(artifact.Bytes.Length, (long)(AgentMetrics.DownloadBytesFromSource.Value - sourceBytesBefore));
        var saved = agent.Store.Find(task)!;
        Assert.Equal(TaskState.Succeeded, saved.State);
        Assert.Equal(artifact.Bytes.Length, saved.BytesFromSource);
        Assert.Equal(0, saved.BytesFromPeers);
        var savedManifest = Manifest.Parser.ParseFrom(saved.ManifestBytes);
        Assert.Equal(artifact.Manifest.PieceDigests, savedManifest.PieceDigests);
        Assert.Equal(artifact.Manifest.Digest, savedManifest.ContentDigest);
        Assert.Equal(manifest.Digest, savedManifest.Digest);
    }

    [Fact]
    public async Task Source_ReadsSeveralPiecesAtOnce()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 16 * TestArtifact.SmallPiece);
        await using var agent = new DownloadingAgent();
        var source = new MemorySource(artifact.Bytes, delay: TimeSpan.FromMilliseconds(30));
        var downloader = agent.CreateDownloader(UrlManifest(artifact));
        downloader.FetchFromSource(source, null);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(16, source.Reads);
        Assert.True(source.MaxConcurrentReads > 1, $"at most {source.MaxConcurrentReads} read at once");
        Assert.True(source.MaxConcurrentReads <= agent.Options.PiecesInFlight);
    }

    [Fact]
    public async Task Source_TakesFromPeersWhatTheyHold_AndOnlyTheRestFromTheOrigin()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 12 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact);
        var task = ContentDigest.Parse(manifest.Digest);
        await using var peer = await TestPeer.StartAsync("peer");
        var peerHas = new PieceBitmap(12);
        for (var i = 0; i < 6; i++)
        {
            peerHas.Set(i);
        }
        peer.Pieces.AddPartial(task, artifact.Layout, artifact.Path, peerHas);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(manifest);
        // A replacement source: an earlier one fetched pieces 0-5, whose digests the scheduler sent.
        LearnDigests(downloader, artifact, Enumerable.Range(0, 6));
        downloader.UpdateParents([peer.AsParent(peerHas)]);
        var source = new MemorySource(artifact.Bytes);
        downloader.FetchFromSource(source, null);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(6, peer.Server.RequestsServed);
        Assert.Equal(Enumerable.Range(6, 6).Select(i => artifact.Layout.OffsetOf(i)), source.Offsets.Order());
        Assert.Equal(Enumerable.Range(0, 6), agent.Reporter.Finished.Order());
        // The source also tells the scheduler the digests of what it already held when it was named (none here).
        Assert.Equal(Enumerable.Range(6, 6), agent.Reporter.Sourced.Select(s => s.Index).Order());
        Assert.Equal(6L * TestArtifact.SmallPiece, downloader.Progress.BytesFromSource);
        Assert.Equal(6L * TestArtifact.SmallPiece, downloader.Progress.BytesFromPeers);
        Assert.Single(agent.Reporter.SourcesDone);
    }

    [Fact]
    public async Task UrlTask_WhenDigestsArriveAfterThePieces_WaitsForThemAndVerifies()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 10 * TestArtifact.SmallPiece + 5);
        var manifest = UrlManifest(artifact, padDigests: true);
        var task = ContentDigest.Parse(manifest.Digest);
        await using var peer = await TestPeer.StartAsync("peer");
        peer.Pieces.AddComplete(task, artifact.Layout, artifact.Path);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(manifest);
        downloader.UpdateParents([peer.AsParent(new PieceBitmap(11))]);
        var run = downloader.RunAsync(CancellationToken.None);

        downloader.PiecesAvailable("peer", Enumerable.Range(0, 11).ToArray());
        await Task.Delay(300);
        Assert.Equal(0, peer.Server.RequestsServed); // nothing could verify them yet
        Assert.False(run.IsCompleted);

        LearnDigests(downloader, artifact, Enumerable.Range(0, 4));
        await WaitUntilAsync(() => downloader.Progress.CompletedPieces == 4);
        Assert.Equal(4, peer.Server.RequestsServed);
        LearnDigests(downloader, artifact, Enumerable.Range(4, 7));
        var outcome = await run.Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(ContentDigest.Parse(artifact.Manifest.Digest), outcome.Content);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(task)));
        Assert.Equal(Enumerable.Range(0, 11), agent.Reporter.Finished.Order());
        Assert.Empty(agent.Reporter.Failures);
        Assert.Empty(agent.Reporter.Sourced);
        Assert.Empty(agent.Reporter.SourcesDone);
        Assert.Equal(11, peer.Server.RequestsServed);
    }

    [Fact]
    public async Task UrlTask_PeerPieceThatDoesNotMatchTheLearnedDigest_IsRejected()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 8 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact);
        var task = ContentDigest.Parse(manifest.Digest);
        await using var bad = await TestPeer.StartAsync("bad");
        bad.Pieces.AddComplete(task, artifact.Layout, artifact.WriteCorruptCopy(_dir.Path));
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(manifest);
        LearnDigests(downloader, artifact, Enumerable.Range(0, 8));
        downloader.UpdateParents([bad.AsParent(PieceBitmap.Full(8))]);
        using var cts = new CancellationTokenSource();
        var run = downloader.RunAsync(cts.Token);

        await WaitUntilAsync(() => agent.Reporter.Failures.Any(f => f.Kind == FailureKind.Corrupt));
        Assert.All(agent.Reporter.Failures, f => Assert.Equal(("bad", FailureKind.Corrupt), (f.ParentId, f.Kind)));
        Assert.Equal(0, downloader.Progress.CompletedPieces);

        // An honest peer arrives: the download completes with its bytes only.
        await using var good = await TestPeer.StartAsync("good");
        good.Pieces.AddComplete(task, artifact.Layout, artifact.Path);
        downloader.UpdateParents([bad.AsParent(PieceBitmap.Full(8)), good.AsParent(PieceBitmap.Full(8))]);
        var outcome = await run.Within();
        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(task)));
    }

    [Fact]
    public async Task Source_WhenTheFileDoesNotHashToTheExpectedDigest_FailsPermanentlyWithoutContent()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 6 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact);
        var task = ContentDigest.Parse(manifest.Digest);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(manifest);
        var wrong = ContentDigest.FromHash(SHA256.HashData("something else"u8));
        downloader.FetchFromSource(new MemorySource(artifact.Bytes), wrong);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.False(outcome.Succeeded);
        Assert.Null(outcome.Content);
        Assert.Equal($"memory://test/object.bin hashes to {artifact.Manifest.Digest}, not to the expected {wrong}", outcome.Error);
        Assert.Equal([(outcome.Error!, true, TaskErrorKind.DigestMismatch)], agent.Reporter.SourceFailures);
        Assert.Equal(TaskErrorKind.DigestMismatch, outcome.ErrorKind);
        Assert.Equal(TaskErrorKind.DigestMismatch, agent.Store.Find(task)!.ErrorKind);
        Assert.Empty(agent.Reporter.SourcesDone);
        AssertNothingLeft(agent, task);
    }

    [Fact]
    public async Task Source_WhenTheOriginRefusesForGood_FailsWithItsMessageAndKind()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 12 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact);
        var task = ContentDigest.Parse(manifest.Digest);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(manifest);
        const string notFound = "not found at origin: http://127.0.0.1/object.bin";
        var failAt = artifact.Layout.OffsetOf(9);
        downloader.FetchFromSource(new MemorySource(artifact.Bytes)
        {
            FailAt = offset => offset == failAt ? new PieceSourceException(notFound, permanent: true, TaskErrorKind.NotFound) : null,
        }, null);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.False(outcome.Succeeded);
        Assert.Equal(notFound, outcome.Error);
        Assert.Equal(TaskErrorKind.NotFound, outcome.ErrorKind);
        Assert.Equal([(notFound, true, TaskErrorKind.NotFound)], agent.Reporter.SourceFailures);
        Assert.Empty(agent.Reporter.SourcesDone);
        AssertNothingLeft(agent, task);
        Assert.Equal(TaskState.Failed, agent.Store.Find(task)!.State);
        Assert.Equal(TaskErrorKind.NotFound, agent.Store.Find(task)!.ErrorKind);
    }

    [Fact]
    public async Task Source_WhenTheOriginSendsOtherBytesThanAKnownDigest_FailsAsChangedContent()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 4 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(manifest);
        // The swarm knows piece 2 from an earlier source; the origin now serves different bytes.
        downloader.PieceDigestsLearned([2], [SHA256.HashData("old content"u8)]);
        downloader.FetchFromSource(new MemorySource(artifact.Bytes), null);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.False(outcome.Succeeded);
        Assert.Equal("the origin's content changed: piece 2 no longer matches", outcome.Error);
        Assert.Equal([(outcome.Error!, true, TaskErrorKind.SourceChanged)], agent.Reporter.SourceFailures);
        Assert.Equal(TaskErrorKind.SourceChanged, outcome.ErrorKind);
        AssertNothingLeft(agent, ContentDigest.Parse(manifest.Digest));
    }

    [Fact]
    public async Task Source_WhenItsRetriesRunOut_ReportsItAndCompletesFromAPeer()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 20 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact);
        var task = ContentDigest.Parse(manifest.Digest);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(manifest);
        const string gaveUp = "connection to origin lost: http://127.0.0.1/object.bin; gave up after 5 attempts";
        var failAt = artifact.Layout.OffsetOf(5);
        var source = new MemorySource(artifact.Bytes, delay: TimeSpan.FromMilliseconds(10))
        {
            FailAt = offset => offset >= failAt ? new PieceSourceException(gaveUp, permanent: false, TaskErrorKind.Unavailable) : null,
        };
        downloader.FetchFromSource(source, null);
        var run = downloader.RunAsync(CancellationToken.None);

        await WaitUntilAsync(() => !agent.Reporter.SourceFailures.IsEmpty);
        // The scheduler names a peer that has it all (fetched by another source) and its digests.
        await using var peer = await TestPeer.StartAsync("peer");
        peer.Pieces.AddComplete(task, artifact.Layout, artifact.Path);
        LearnDigests(downloader, artifact, Enumerable.Range(0, 20));
        downloader.UpdateParents([peer.AsParent(PieceBitmap.Full(20))]);
        var outcome = await run.Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal([(gaveUp, false, TaskErrorKind.Unavailable)], agent.Reporter.SourceFailures);
        Assert.Empty(agent.Reporter.SourcesDone); // no longer the source
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(task)));
        var progress = downloader.Progress;
        Assert.Equal(artifact.Bytes.Length, progress.BytesFromPeers + progress.BytesFromSource);
        Assert.InRange(progress.BytesFromSource, 1, 12L * TestArtifact.SmallPiece);
        Assert.True((long)peer.Server.RequestsServed * TestArtifact.SmallPiece >= artifact.Bytes.Length - progress.BytesFromSource);
    }

    [Fact]
    public async Task PiecesFromTheOrigin_AreRecordedAtOnce_WithoutWaitingForTheSaveInterval()
    {
        // The default save interval and a clock that never moves: a peer's piece would wait for the next save,
        // a piece from the origin must not (fetching it again after a crash costs the origin a second copy).
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 16 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact);
        var task = ContentDigest.Parse(manifest.Digest);
        await using var agent = new DownloadingAgent(new TransferOptions { DataDir = Path.Combine(_dir.Path, "agent") });
        var downloader = agent.CreateDownloader(manifest, time: new FakeTimeProvider(DateTimeOffset.UtcNow));
        downloader.FetchFromSource(new MemorySource(artifact.Bytes, delay: TimeSpan.FromSeconds(1.5)), null); // 2 rounds of 8: 3 s
        using var stop = new CancellationTokenSource();
        var run = downloader.RunAsync(stop.Token);

        await TestTimeout.UntilAsync(() => agent.Reporter.Sourced.Count > 0, "the first piece from the origin");
        await TestTimeout.UntilAsync(() => PieceBitmap.FromBytes(agent.Store.Find(task)!.Bitmap, 16).CountSet > 0,
            "the first piece from the origin in the record");
        Assert.True(downloader.Progress.CompletedPieces > 0);
        Assert.False(run.IsCompleted);

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.Within());
    }

    [Fact]
    public async Task FailFromSwarm_StopsTheDownloadWithThatErrorAndNoOutput()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 16 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact);
        var task = ContentDigest.Parse(manifest.Digest);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(manifest);
        downloader.FetchFromSource(new MemorySource(artifact.Bytes, delay: TimeSpan.FromMilliseconds(40)), null);
        var run = downloader.RunAsync(CancellationToken.None);
        await WaitUntilAsync(() => downloader.Progress.CompletedPieces > 0);

        const string error = "not found at origin: http://127.0.0.1/object.bin";
        downloader.FailFromSwarm(error, TaskErrorKind.NotFound);
        var outcome = await run.Within();

        Assert.False(outcome.Succeeded);
        Assert.Equal(error, outcome.Error);
        Assert.Equal(TaskErrorKind.NotFound, outcome.ErrorKind);
        Assert.Equal(TaskErrorKind.NotFound, agent.Store.Find(task)!.ErrorKind);
        Assert.Empty(agent.Reporter.SourcesDone);
        AssertNothingLeft(agent, task);
    }

    [Fact]
    public async Task FailFromSwarm_BeforeRunning_FailsAtOnce()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 2 * TestArtifact.SmallPiece);
        await using var agent = new DownloadingAgent();
        var manifest = UrlManifest(artifact);
        var downloader = agent.CreateDownloader(manifest);
        downloader.FailFromSwarm("the origin answered 403 Forbidden", TaskErrorKind.AccessDenied);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.Equal(DownloadOutcome.Failure("the origin answered 403 Forbidden") with { ErrorKind = TaskErrorKind.AccessDenied }, outcome);
        AssertNothingLeft(agent, ContentDigest.Parse(manifest.Digest));
    }

    [Fact]
    public async Task UrlTask_WhenTheLearnedContentDigestDiffers_FailsWithoutContent()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 6 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact);
        var task = ContentDigest.Parse(manifest.Digest);
        await using var peer = await TestPeer.StartAsync("peer");
        peer.Pieces.AddComplete(task, artifact.Layout, artifact.Path);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(manifest);
        LearnDigests(downloader, artifact, Enumerable.Range(0, 6));
        var other = ContentDigest.FromHash(SHA256.HashData("another file"u8));
        downloader.ContentDigestLearned(other);
        downloader.UpdateParents([peer.AsParent(PieceBitmap.Full(6))]);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.False(outcome.Succeeded);
        Assert.Contains($"hashes to {artifact.Manifest.Digest}, not to {other}", outcome.Error);
        Assert.Empty(agent.Reporter.SourceFailures); // a member, not the source
        AssertNothingLeft(agent, task);
    }

    [Fact]
    public async Task UrlTask_WhenTheContentDigestIsKnownAndMatches_Succeeds()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 6 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact, contentDigest: artifact.Manifest.Digest);
        var task = ContentDigest.Parse(manifest.Digest);
        await using var peer = await TestPeer.StartAsync("peer");
        peer.Pieces.AddComplete(task, artifact.Layout, artifact.Path);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(manifest);
        Assert.Equal(ContentDigest.Parse(artifact.Manifest.Digest), downloader.KnownContent);
        LearnDigests(downloader, artifact, Enumerable.Range(0, 6));
        downloader.UpdateParents([peer.AsParent(PieceBitmap.Full(6))]);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(downloader.KnownContent, outcome.Content);
    }

    [Fact]
    public async Task UrlTask_BoundBySource_TakesTheSourcesWordForTheWholeFile()
    {
        // A member proven by binding makes no second pass over the bytes: the content digest is
        // its source's word, as the piece digests are. With the whole-file hash the same download
        // fails (UrlTask_WhenTheLearnedContentDigestDiffers_FailsWithoutContent), which is how
        // this shows that nothing was hashed.
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 6 * TestArtifact.SmallPiece + 3);
        await using var member = await BoundMemberAsync(artifact, UrlManifest(artifact));
        var word = ContentDigest.FromHash(SHA256.HashData("what the source said"u8));
        member.Downloader.ContentDigestLearned(word);

        var outcome = await member.Downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(word, outcome.Content);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(member.Agent.Content.ContentPath(member.Task)));
        Assert.Equal(word.ToString(), Manifest.Parser.ParseFrom(member.Agent.Store.Find(member.Task)!.ManifestBytes).ContentDigest);
        Assert.Empty(member.Agent.Reporter.SourcesDone);
    }

    [Fact]
    public async Task UrlTask_BoundBySource_WithoutItsWordAtTheEnd_HashesTheFileOnce()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 9 * TestArtifact.SmallPiece + 11);
        await using var member = await BoundMemberAsync(artifact, UrlManifest(artifact));

        var outcome = await member.Downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(ContentDigest.Parse(artifact.Manifest.Digest), outcome.Content);
        Assert.Equal(10, member.Peer.Server.RequestsServed);
    }

    [Fact]
    public async Task UrlTask_BoundBySource_WithADigestNamedUpFront_HashesTheFile()
    {
        // A content digest in the manifest before the run may be a registrant's --digest: the
        // piece digests, which the source reports, must not answer for it.
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 4 * TestArtifact.SmallPiece + 9);
        var named = ContentDigest.FromHash(SHA256.HashData("the digest the user named"u8));
        await using var member = await BoundMemberAsync(artifact, UrlManifest(artifact, contentDigest: named.ToString()));

        var outcome = await member.Downloader.RunAsync(CancellationToken.None).Within();

        Assert.False(outcome.Succeeded);
        Assert.Contains($"hashes to {artifact.Manifest.Digest}, not to {named}", outcome.Error);
        AssertNothingLeft(member.Agent, member.Task);
    }

    [Fact]
    public async Task Source_BoundBySource_HashesWhatItFetched()
    {
        // Even with a content digest in hand, the source reports what its own bytes hash to.
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 5 * TestArtifact.SmallPiece + 1);
        var manifest = UrlManifest(artifact);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(manifest, proof: WholeFileProof.ManifestBinding);
        downloader.FetchFromSource(new MemorySource(artifact.Bytes), null);
        downloader.ContentDigestLearned(ContentDigest.FromHash(SHA256.HashData("an earlier source's word"u8)));

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.False(outcome.Succeeded);
        Assert.Contains($"hashes to {artifact.Manifest.Digest}", outcome.Error);
        Assert.Empty(agent.Reporter.SourcesDone);
    }

    [Fact]
    public async Task UrlTask_ResumedAfterCancel_KeepsLearnedDigestsAndFetchesOnlyTheRest()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 24 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact);
        var task = ContentDigest.Parse(manifest.Digest);
        await using var agent = new DownloadingAgent();
        var first = agent.CreateDownloader(manifest);
        first.FetchFromSource(new MemorySource(artifact.Bytes, delay: TimeSpan.FromMilliseconds(30)), null);
        using var cts = new CancellationTokenSource();
        first.ProgressChanged += p =>
        {
            if (p.CompletedPieces >= 4)
            {
                cts.Cancel();
            }
        };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.RunAsync(cts.Token).Within());

        var kept = agent.Store.Find(task)!;
        var done = PieceBitmap.FromBytes(kept.Bitmap, 24);
        Assert.InRange(done.CountSet, 4, 23);
        var keptManifest = Manifest.Parser.ParseFrom(kept.ManifestBytes);
        foreach (var i in done.SetIndexes())
        {
            Assert.Equal(artifact.Manifest.PieceDigests[i], keptManifest.PieceDigests[i]);
        }
        Assert.Equal(done.CountSet * (long)TestArtifact.SmallPiece, kept.BytesFromSource);

        // The next run starts from the scheduler's manifest (no digests) and the record.
        var source = new MemorySource(artifact.Bytes);
        var second = agent.CreateDownloader(manifest, kept);
        second.FetchFromSource(source, null);
        var outcome = await second.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(24 - done.CountSet, source.Reads);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(task)));
        Assert.Equal(artifact.Bytes.Length, agent.Store.Find(task)!.BytesFromSource);
        // As the source it told the scheduler the digests of the pieces it kept, too.
        Assert.Equal(Enumerable.Range(0, 24), agent.Reporter.Sourced.Select(s => s.Index).Distinct().Order());
    }

    [Fact]
    public async Task UrlTask_ResumedWithADamagedKeptPiece_FetchesItAgain()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 6 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact);
        var task = ContentDigest.Parse(manifest.Digest);
        await using var agent = new DownloadingAgent();
        var partial = agent.Content.PartialPath(task);
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        var bytes = (byte[])artifact.Bytes.Clone();
        bytes[artifact.Layout.OffsetOf(2) + 7] ^= 1;
        await File.WriteAllBytesAsync(partial, bytes);
        // The record of an earlier run: every piece done, every digest learned.
        var learned = manifest.Clone();
        learned.PieceDigests.Add(artifact.Manifest.PieceDigests);
        var record = new TaskRecord
        {
            Id = manifest.Digest, PieceSize = artifact.Layout.PieceSize, PieceCount = 6, State = TaskState.Running,
            Bitmap = PieceBitmap.Full(6).ToBytes(), ManifestBytes = learned.ToByteArray(),
        };
        var source = new MemorySource(artifact.Bytes);
        var downloader = agent.CreateDownloader(manifest, record);
        downloader.FetchFromSource(source, null);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal([artifact.Layout.OffsetOf(2)], source.Offsets);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(task)));
    }

    [Fact]
    public async Task Source_WhenTheContentIsAlreadyStored_ReportsItWithoutReadingTheOrigin()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 5 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact);
        var task = ContentDigest.Parse(manifest.Digest);
        await using var agent = new DownloadingAgent();
        var first = agent.CreateDownloader(manifest);
        first.FetchFromSource(new MemorySource(artifact.Bytes), null);
        Assert.True((await first.RunAsync(CancellationToken.None).Within()).Succeeded);
        while (agent.Reporter.Sourced.TryDequeue(out _))
        {
        }
        agent.Reporter.SourcesDone.Clear();

        // The scheduler forgot the task; it names this agent the source again.
        var source = new MemorySource(artifact.Bytes);
        var again = agent.CreateDownloader(manifest, agent.Store.Find(task));
        again.FetchFromSource(source, ContentDigest.Parse(artifact.Manifest.Digest));
        var outcome = await again.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(ContentDigest.Parse(artifact.Manifest.Digest), outcome.Content);
        Assert.Equal(0, source.Reads);
        Assert.Equal(Enumerable.Range(0, 5), agent.Reporter.Sourced.Select(s => s.Index).Order());
        Assert.All(agent.Reporter.Sourced, s => Assert.Equal(artifact.Manifest.PieceDigests[s.Index].ToByteArray(), s.Digest));
        Assert.Equal([ContentDigest.Parse(artifact.Manifest.Digest)], agent.Reporter.SourcesDone);
    }

    [Fact]
    public async Task Download_WithATaskLimit_TakesAsLongAsTheLimitSays()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 8 * TestArtifact.SmallPiece);
        await using var agent = new DownloadingAgent();
        // 512 KiB at 1 MiB/s with a tenth of a second of burst: at least 0.4 s.
        var downloader = agent.CreateDownloader(UrlManifest(artifact), downloadLimit: 1 << 20);
        downloader.FetchFromSource(new MemorySource(artifact.Bytes), null);
        var started = TimeProvider.System.GetTimestamp();

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.True(TimeProvider.System.GetElapsedTime(started) >= TimeSpan.FromSeconds(0.35),
            $"took {TimeProvider.System.GetElapsedTime(started).TotalSeconds:0.000} s");
    }

    [Fact]
    public async Task ContentTask_RejectsFetchFromSource_AndReportsItsContentId()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 3 * TestArtifact.SmallPiece);
        await using var parent = await TestPeer.StartAsync("parent");
        parent.Pieces.AddComplete(artifact.Digest, artifact.Layout, artifact.Path);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(artifact);
        Assert.Throws<InvalidOperationException>(() => downloader.FetchFromSource(new MemorySource(artifact.Bytes), null));
        downloader.UpdateParents([parent.AsParent(PieceBitmap.Full(3))]);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(artifact.Digest, outcome.Content);
    }

    [Fact]
    public async Task UrlTask_WithMalformedPartialDigests_FailsAsAnInvalidManifest()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 3 * TestArtifact.SmallPiece);
        var manifest = UrlManifest(artifact);
        manifest.PieceDigests.Add(ByteString.CopyFrom(1, 2, 3));
        await using var agent = new DownloadingAgent();

        var outcome = await agent.CreateDownloader(manifest).RunAsync(CancellationToken.None).Within();

        Assert.False(outcome.Succeeded);
        Assert.Contains("is invalid", outcome.Error);
    }

    /// <summary>The artifact as a URL task: a task id that is not its content id, and no digests yet.</summary>
    private static Manifest UrlManifest(TestArtifact artifact, bool padDigests = false, string? contentDigest = null)
    {
        var manifest = artifact.Manifest.Clone();
        manifest.Digest = ContentDigest.FromHash(SHA256.HashData(Encoding.UTF8.GetBytes("url-task:" + artifact.Path))).ToString();
        manifest.UrlTask = true;
        manifest.PieceDigests.Clear();
        if (padDigests)
        {
            manifest.PieceDigests.Add(Enumerable.Repeat(ByteString.Empty, artifact.Layout.PieceCount));
        }
        manifest.ContentDigest = contentDigest ?? "";
        return manifest;
    }

    /// <summary>
    /// A member of the artifact's URL task proven by binding (<see cref="WholeFileProof.ManifestBinding"/>): every
    /// piece digest learned, one peer holding the whole file as its parent, not run yet.
    /// </summary>
    private static async Task<BoundMember> BoundMemberAsync(TestArtifact artifact, Manifest manifest)
    {
        var task = ContentDigest.Parse(manifest.Digest);
        var peer = await TestPeer.StartAsync("peer");
        peer.Pieces.AddComplete(task, artifact.Layout, artifact.Path);
        var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(manifest, proof: WholeFileProof.ManifestBinding);
        var count = artifact.Layout.PieceCount;
        LearnDigests(downloader, artifact, Enumerable.Range(0, count));
        downloader.UpdateParents([peer.AsParent(PieceBitmap.Full(count))]);
        return new BoundMember(task, peer, agent, downloader);
    }

    private sealed record BoundMember(ContentDigest Task, TestPeer Peer, DownloadingAgent Agent, TaskDownloader Downloader) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Agent.DisposeAsync();
            await Peer.DisposeAsync();
        }
    }

    private static void LearnDigests(TaskDownloader downloader, TestArtifact artifact, IEnumerable<int> indexes)
    {
        var list = indexes.ToArray();
        downloader.PieceDigestsLearned(list, list.Select(i => (ReadOnlyMemory<byte>)artifact.Manifest.PieceDigests[i].ToByteArray()).ToArray());
    }

    private static void AssertNothingLeft(DownloadingAgent agent, ContentDigest task)
    {
        Assert.False(agent.Content.HasContent(task));
        Assert.False(File.Exists(agent.Content.PartialPath(task)));
        Assert.False(agent.Pieces.Contains(task));
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
