using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

/// <summary>
/// Downloads proven by the manifest's piece digests alone (no second pass over the bytes), and
/// the in-order whole-file hash, over loopback with real piece servers.
/// </summary>
[Collection(MetricsCollection.Name)]
public sealed class WholeFileProofTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(WholeFileProof.ManifestBinding)]
    [InlineData(WholeFileProof.Sha256)]
    [InlineData(WholeFileProof.PieceChain)]
    public async Task Download_FromTwoParents_ProducesIdenticalBytes(WholeFileProof proof)
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 40 * TestArtifact.SmallPiece + 77);
        await using var a = await TestPeer.StartAsync("a");
        await using var b = await TestPeer.StartAsync("b");
        a.Pieces.AddComplete(artifact.Digest, artifact.Layout, artifact.Path);
        b.Pieces.AddComplete(artifact.Digest, artifact.Layout, artifact.Path);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(artifact, proof: proof);
        var full = PieceBitmap.Full(artifact.Layout.PieceCount);
        downloader.UpdateParents([a.AsParent(full), b.AsParent(full)]);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(artifact.Digest, outcome.Content);
        Assert.Equal(proof, downloader.ProofUsed);
        var path = agent.Content.ContentPath(artifact.Digest);
        Assert.Equal(artifact.Manifest.Digest, TestArtifact.Sha256Of(path));
        Assert.Equal(TaskState.Succeeded, agent.Store.Find(artifact.Digest)!.State);
        Assert.NotNull(downloader.FirstPieceRequestedAt);
        Assert.Equal(downloader.FirstPieceRequestedAt, agent.Store.Find(artifact.Digest)!.FirstPieceRequestedAt);
    }

    [Theory]
    [InlineData(WholeFileProof.ManifestBinding)]
    [InlineData(WholeFileProof.Sha256)]
    [InlineData(WholeFileProof.PieceChain)]
    public async Task Download_WhenKeptPiecesAreDamagedOnDisk_FetchesOnlyThoseAgain(WholeFileProof proof)
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 12 * TestArtifact.SmallPiece);
        var layout = artifact.Layout;
        await using var parent = await TestPeer.StartAsync("parent");
        parent.Pieces.AddComplete(artifact.Digest, layout, artifact.Path);
        await using var agent = new DownloadingAgent();
        var partial = agent.Content.PartialPath(artifact.Digest);
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        var bytes = (byte[])artifact.Bytes.Clone();
        bytes[layout.OffsetOf(0) + 1] ^= 1;  // the first piece: the one the in-order hash needs first
        bytes[layout.OffsetOf(7) + 99] ^= 1;
        await File.WriteAllBytesAsync(partial, bytes);
        var record = agent.NewRecord(artifact);
        record.PieceSize = layout.PieceSize;
        record.PieceCount = layout.PieceCount;
        record.Bitmap = PieceBitmap.Full(layout.PieceCount).ToBytes();

        var downloader = agent.CreateDownloader(artifact, record, proof: proof);
        downloader.UpdateParents([parent.AsParent(PieceBitmap.Full(layout.PieceCount))]);
        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        // Kept pieces were checked against their digests only, so the chain cannot prove the file: it is hashed.
        Assert.Equal(proof == WholeFileProof.PieceChain ? WholeFileProof.Sha256 : proof, downloader.ProofUsed);
        Assert.Equal(2, parent.Server.RequestsServed);
        Assert.Equal([0, 7], agent.Reporter.Finished.Order());
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(artifact.Digest)));
    }

    [Fact]
    public async Task Download_ByTheChain_RefusesACorruptParentsPieces_AndFinishesFromTheGoodOne()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 16 * TestArtifact.SmallPiece + 300);
        await using var good = await TestPeer.StartAsync("good");
        await using var bad = await TestPeer.StartAsync("bad");
        good.Pieces.AddComplete(artifact.Digest, artifact.Layout, artifact.Path);
        bad.Pieces.AddComplete(artifact.Digest, artifact.Layout, artifact.WriteCorruptCopy(_dir.Path));
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(artifact, proof: WholeFileProof.PieceChain);
        var full = PieceBitmap.Full(artifact.Layout.PieceCount);
        downloader.UpdateParents([bad.AsParent(full), good.AsParent(full)]);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(WholeFileProof.PieceChain, downloader.ProofUsed);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(artifact.Digest)));
        var corrupt = agent.Reporter.Failures.Where(f => f.Kind == FailureKind.Corrupt).ToList();
        Assert.NotEmpty(corrupt);
        Assert.All(corrupt, f => Assert.Equal("bad", f.ParentId));
    }

    /// <param name="chain">
    /// "wrong entry": entry 3 is wrong, so piece 3 matches its digest but fails its chained check (and so would
    /// piece 4, which starts from entry 3): the run drops the chain. "none": the manifest lists no chain at all.
    /// Either way the genuine bytes download, proven by hashing the whole file.
    /// </param>
    [Theory]
    [InlineData("wrong entry")]
    [InlineData("none")]
    public async Task Download_ByTheChain_WithoutAUsableChain_ProvesTheFileByHashingIt(string chain)
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 10 * TestArtifact.SmallPiece + 5);
        if (chain == "none")
        {
            artifact.Manifest.PieceChain.Clear();
        }
        else
        {
            artifact.Manifest.PieceChain[3] = Google.Protobuf.ByteString.CopyFrom(new byte[32]);
        }
        await using var parent = await TestPeer.StartAsync("parent");
        parent.Pieces.AddComplete(artifact.Digest, artifact.Layout, artifact.Path);
        await using var agent = new DownloadingAgent();
        var downloader = agent.CreateDownloader(artifact, proof: WholeFileProof.PieceChain);
        downloader.UpdateParents([parent.AsParent(PieceBitmap.Full(artifact.Layout.PieceCount))]);

        var outcome = await downloader.RunAsync(CancellationToken.None).Within();

        Assert.True(outcome.Succeeded, outcome.Error);
        Assert.Equal(artifact.Digest, outcome.Content);
        Assert.Equal(WholeFileProof.Sha256, downloader.ProofUsed);
        Assert.Equal(artifact.Bytes, await File.ReadAllBytesAsync(agent.Content.ContentPath(artifact.Digest)));
        // The genuine bytes were not counted against the parent.
        Assert.DoesNotContain(agent.Reporter.Failures, f => f.Kind == FailureKind.Corrupt);
    }
}
