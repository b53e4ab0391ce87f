using System.Security.Cryptography;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Scheduler = Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer.Pieces;

namespace Dragonfly.PubSub.Agent.Tests.Pieces;

/// <summary>
/// The SHA-256 chaining values a content manifest lists at its piece boundaries (<c>piece_chain</c>):
/// each piece checks on its own, in any order, and the last one's check is the whole file's SHA-256.
/// </summary>
public sealed class Sha256ChainTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task ManifestChain_ChecksEachPieceAlone_InAnyOrder_AndTheLastFinishesIntoTheContentId()
    {
        Assert.True(Sha256Chain.IsSupported, "libcrypto.so.3's SHA256_* should run here (Debian 12's OpenSSL 3)");
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 6 * TestArtifact.SmallPiece + 1001);
        var layout = artifact.Layout;
        Assert.Equal(layout.PieceCount - 1, artifact.Manifest.PieceChain.Count);
        var chain = ManifestChain.From(artifact.Manifest, layout)!;
        Assert.NotNull(chain);
        var contentId = artifact.Digest.ToBytes();
        Assert.Equal(SHA256.HashData(artifact.Bytes), contentId);

        foreach (var index in Enumerable.Range(0, layout.PieceCount).Reverse())
        {
            Assert.True(Passes(PieceCheck.Chained(chain, contentId, layout, index), PieceOf(artifact.Bytes, layout, index)), $"piece {index}");
        }
        // Each state is what SHA-256 of the file's beginning reaches: the chain is the whole-file hash cut at the boundaries.
        var prefix = new Sha256Chain();
        prefix.StartAt([], 0);
        prefix.Append(artifact.Bytes.AsSpan(0, (int)layout.OffsetOf(3)));
        var state = new byte[Sha256Chain.StateSize];
        prefix.WriteState(state);
        Assert.Equal(chain[2], state);
    }

    [Fact]
    public async Task ManifestChain_RefusesAChangedByte_OnlyInItsPiece()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 5 * TestArtifact.SmallPiece);
        var layout = artifact.Layout;
        var chain = ManifestChain.From(artifact.Manifest, layout)!;
        var contentId = artifact.Digest.ToBytes();
        var damaged = (byte[])artifact.Bytes.Clone();
        damaged[layout.OffsetOf(2) + 5] ^= 1;
        damaged[layout.OffsetOf(4) + 9] ^= 1;

        var passed = Enumerable.Range(0, layout.PieceCount)
            .Where(i => Passes(PieceCheck.Chained(chain, contentId, layout, i), PieceOf(damaged, layout, i)))
            .ToArray();

        Assert.Equal([0, 1, 3], passed);
    }

    [Fact]
    public async Task ManifestChain_IsNotUsed_WhenTheListDoesNotFitTheLayout()
    {
        var artifact = await TestArtifact.CreateAsync(_dir.Path, 4 * TestArtifact.SmallPiece);
        var shortened = artifact.Manifest.Clone();
        shortened.PieceChain.RemoveAt(0);
        var badEntry = artifact.Manifest.Clone();
        badEntry.PieceChain[1] = Google.Protobuf.ByteString.CopyFrom(new byte[31]);
        var single = await TestArtifact.CreateAsync(_dir.Path, TestArtifact.SmallPiece, seed: 2);

        Assert.NotNull(ManifestChain.From(artifact.Manifest, artifact.Layout));
        Assert.Null(ManifestChain.From(shortened, artifact.Layout));
        Assert.Null(ManifestChain.From(badEntry, artifact.Layout));
        Assert.Empty(single.Manifest.PieceChain);
    }

    [Fact]
    public void InlineManifest_LeavesTheChainOut_SoThat1024PiecesStillFitTheDefaultLimit()
    {
        var manifest = new Scheduler.Manifest { Digest = ContentDigest.FromHash(new byte[32]).ToString(), Name = "big.bin", Size = 1024L * 262144, PieceSize = 262144 };
        for (var i = 0; i < 1024; i++)
        {
            manifest.PieceDigests.Add(Google.Protobuf.ByteString.CopyFrom(SHA256.HashData(BitConverter.GetBytes(i))));
            if (i < 1023)
            {
                manifest.PieceChain.Add(Google.Protobuf.ByteString.CopyFrom(SHA256.HashData(BitConverter.GetBytes(-i))));
            }
        }
        Assert.True(manifest.CalculateSize() > Announcement.DefaultInlineManifestMax, "with its chain the manifest is over the limit");

        var inline = manifest.ToInline(Announcement.DefaultInlineManifestMax);

        Assert.NotNull(inline);
        var carried = Manifests.FromInline(inline, out var error);
        Assert.Null(error);
        Assert.Empty(carried!.PieceChain);
        Assert.Equal(manifest.PieceDigests, carried.PieceDigests);
        Assert.Equal(1023, manifest.PieceChain.Count);
    }

    private static ReadOnlySpan<byte> PieceOf(byte[] bytes, PieceLayout layout, int index) =>
        bytes.AsSpan((int)layout.OffsetOf(index), layout.LengthOf(index));

    private static bool Passes(PieceCheck check, ReadOnlySpan<byte> piece)
    {
        var chain = new Sha256Chain();
        chain.StartAt(check.StartState.Span, check.Offset);
        chain.Append(piece);
        var result = new byte[Sha256Chain.StateSize];
        if (check.Kind == PieceCheckKind.ChainFinal)
        {
            chain.Finish(result);
        }
        else
        {
            chain.WriteState(result);
        }
        return result.AsSpan().SequenceEqual(check.Expected.Span);
    }
}
