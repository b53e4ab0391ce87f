using System.Security.Cryptography;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;

namespace Dragonfly.PubSub.Agent.Tests.Storage;

/// <summary>
/// Publishing without copying (hash where the file lies, then a hard link into the store), placing
/// outputs by link, and the guard that stops serving a published file its owner changed.
/// The temp folder and the store share one filesystem, so links are possible here.
/// </summary>
public sealed class PublishInPlaceTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task ImportInPlace_DescribesTheFileLikeACopyingImport_AndSharesItsInode()
    {
        var source = _dir.Combine("input.bin");
        var bytes = RandomBytes(7 * 65536 + 123);
        await File.WriteAllBytesAsync(source, bytes);
        var copying = await new ContentStore(_dir.Combine("copy")).ImportAsync(source, "input.bin", 65536, null, CancellationToken.None);
        var store = new ContentStore(_dir.Combine("data"));

        var result = await store.ImportInPlaceAsync(source, "input.bin", 65536, null, CancellationToken.None).Within();

        Assert.Equal(copying, result.Manifest);
        var digest = ContentDigest.Parse(result.Manifest.Digest);
        Assert.Equal(ContentDigest.FromHash(SHA256.HashData(bytes)), digest);
        // Not copied: cloned where the filesystem can, else linked with a guard.
        Assert.Contains(result.Method, new[] { ImportMethod.Linked, ImportMethod.Cloned });
        if (result.Method == ImportMethod.Linked)
        {
            Assert.Equal(FileStamp.Of(source), result.Guard);
            Assert.Equal(FileStamp.Of(source)!.Value.Inode, FileStamp.Of(store.ContentPath(digest))!.Value.Inode);
        }
        Assert.Equal(bytes, await File.ReadAllBytesAsync(store.ContentPath(digest)));
        Assert.Equal([store.ContentPath(digest)], Directory.GetFiles(_dir.Combine("data", "content", "sha256")));
    }

    [Fact]
    public async Task ImportInPlace_OfContentAlreadyStored_KeepsTheStoredFile()
    {
        var source = _dir.Combine("input.bin");
        await File.WriteAllBytesAsync(source, RandomBytes(1000));
        var copy = _dir.Combine("same.bin");
        File.Copy(source, copy);
        var store = new ContentStore(_dir.Combine("data"));
        await store.ImportInPlaceAsync(source, "a.bin", null, null, CancellationToken.None);

        var second = await store.ImportInPlaceAsync(copy, "b.bin", null, null, CancellationToken.None).Within();

        Assert.Equal(ImportMethod.AlreadyStored, second.Method);
        Assert.Null(second.Guard);
        Assert.Single(Directory.GetFiles(_dir.Combine("data", "content", "sha256")));
    }

    [Fact]
    public async Task ImportInPlace_OfAnEmptyFile_Works()
    {
        var source = _dir.Combine("empty.bin");
        await File.WriteAllBytesAsync(source, []);
        var store = new ContentStore(_dir.Combine("data"));

        var result = await store.ImportInPlaceAsync(source, "empty.bin", null, null, CancellationToken.None).Within();

        Assert.Equal(ContentDigest.FromHash(SHA256.HashData(ReadOnlySpan<byte>.Empty)).ToString(), result.Manifest.Digest);
        Assert.True(store.HasContent(ContentDigest.Parse(result.Manifest.Digest)));
    }

    [Fact]
    public async Task Guard_WhenThePublishedFileChanges_StopsServingIt_AndReverifyTellsTouchedFromEdited()
    {
        var source = _dir.Combine("input.bin");
        var bytes = RandomBytes(3 * 65536);
        await File.WriteAllBytesAsync(source, bytes);
        var store = new ContentStore(_dir.Combine("data"));
        var result = await store.ImportInPlaceAsync(source, "input.bin", 65536, null, CancellationToken.None);
        if (result.Method != ImportMethod.Linked)
        {
            return; // a cloning filesystem gives the store its own copy: nothing to guard
        }
        var digest = ContentDigest.Parse(result.Manifest.Digest);
        var key = DigestKey.From(digest);
        var pieces = new LocalPieces();
        var tripped = new List<ContentDigest>();
        pieces.GuardTripped += tripped.Add;
        pieces.AddComplete(digest, new PieceLayout(bytes.Length, 65536), store.ContentPath(digest), result.Guard);
        Assert.True(pieces.TryResolve(key, 0, 65536, out _));

        // Touched only: not served until checked, then served again with the new stamp.
        File.SetLastWriteTimeUtc(source, DateTime.UtcNow.AddMinutes(1));
        Assert.False(pieces.TryResolve(key, 0, 65536, out _));
        Assert.Equal([digest], tripped);
        Assert.False(pieces.Contains(digest));
        var touched = await store.ReverifyAsync(digest, 65536, CancellationToken.None);
        Assert.Equal(FileStamp.Of(source), touched);

        // Edited in place: the bytes are no longer the content id's.
        await using (var stream = new FileStream(source, FileMode.Open, FileAccess.Write))
        {
            stream.Position = 70_000;
            stream.WriteByte((byte)(bytes[70_000] ^ 1));
        }
        Assert.Null(await store.ReverifyAsync(digest, 65536, CancellationToken.None));
    }

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return bytes;
    }
}
