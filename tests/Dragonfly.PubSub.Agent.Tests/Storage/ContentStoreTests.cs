using System.Security.Cryptography;
using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Transfer.Storage;

namespace Dragonfly.PubSub.Agent.Tests.Storage;

public sealed class ContentStoreTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Import_StoresTheFileUnderItsSha256AndDescribesItsPieces()
    {
        var bytes = RandomBytes(3 * 65536 + 17);
        var source = _dir.Combine("input.bin");
        await File.WriteAllBytesAsync(source, bytes);
        var store = new ContentStore(_dir.Combine("data"));
        var reported = new List<long>();

        var manifest = await store.ImportAsync(source, "input.bin", 65536, new SyncProgress(reported.Add), CancellationToken.None).Within();

        var digest = ContentDigest.Parse(manifest.Digest);
        Assert.Equal(ContentDigest.FromHash(SHA256.HashData(bytes)), digest);
        Assert.Equal(_dir.Combine("data", "content", "sha256", digest.Hex), store.ContentPath(digest));
        Assert.True(store.HasContent(digest));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(store.ContentPath(digest)));
        Assert.Equal("input.bin", manifest.Name);
        Assert.Equal(bytes.Length, manifest.Size);
        Assert.Equal(65536, manifest.PieceSize);
        Assert.Equal(4, manifest.PieceDigests.Count);
        Assert.Equal(SHA256.HashData(bytes.AsSpan(3 * 65536)), manifest.PieceDigests[3].ToByteArray());
        Assert.Equal(bytes.Length, reported[^1]);
        Assert.Equal([store.ContentPath(digest)], Directory.GetFiles(_dir.Combine("data", "content", "sha256")));
    }

    [Fact]
    public async Task Import_TheSameContentTwice_KeepsOneCopy()
    {
        var source = _dir.Combine("input.bin");
        await File.WriteAllBytesAsync(source, RandomBytes(1000));
        var store = new ContentStore(_dir.Combine("data"));

        var first = await store.ImportAsync(source, "a.bin", null, null, CancellationToken.None).Within();
        var second = await store.ImportAsync(source, "b.bin", null, null, CancellationToken.None).Within();

        Assert.Equal(first.Digest, second.Digest);
        Assert.Single(Directory.GetFiles(_dir.Combine("data", "content", "sha256")));
    }

    [Fact]
    public async Task Import_OfAMissingFile_IsAUsageError()
    {
        var store = new ContentStore(_dir.Path);

        var e = await Assert.ThrowsAsync<UserFacingException>(() => store.ImportAsync(_dir.Combine("nope.bin"), "nope.bin", null, null, CancellationToken.None));

        Assert.Equal(ExitCodes.Usage, e.ExitCode);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public async Task Import_WithAPathAsName_IsAUsageError()
    {
        var source = _dir.Combine("input.bin");
        await File.WriteAllBytesAsync(source, RandomBytes(10));
        var store = new ContentStore(_dir.Path);

        var e = await Assert.ThrowsAsync<UserFacingException>(() => store.ImportAsync(source, "../x", null, null, CancellationToken.None));

        Assert.Equal(ExitCodes.Usage, e.ExitCode);
    }

    [Fact]
    public async Task Place_LinksTheContentAtomicallyAndReplacesAnOldFile()
    {
        var bytes = RandomBytes(200_000);
        var source = _dir.Combine("input.bin");
        await File.WriteAllBytesAsync(source, bytes);
        var store = new ContentStore(_dir.Combine("data"));
        var digest = ContentDigest.Parse((await store.ImportAsync(source, "input.bin", null, null, CancellationToken.None)).Digest);
        var output = _dir.Combine("out", "releases", "app", "app.bin");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        await File.WriteAllTextAsync(output, "old version");

        var linked = await store.PlaceAsync(digest, output, CancellationToken.None).Within();

        Assert.Equal(bytes, await File.ReadAllBytesAsync(output));
        Assert.Equal([output], Directory.GetFiles(Path.GetDirectoryName(output)!));
        // No copy on one filesystem: the output is a hard link to the stored file.
        Assert.True(linked);
        Assert.Equal(FileStamp.Of(store.ContentPath(digest))!.Value.Inode, FileStamp.Of(output)!.Value.Inode);
    }

    [Fact]
    public async Task Place_CreatesMissingFolders()
    {
        var source = _dir.Combine("input.bin");
        await File.WriteAllBytesAsync(source, RandomBytes(10));
        var store = new ContentStore(_dir.Combine("data"));
        var digest = ContentDigest.Parse((await store.ImportAsync(source, "input.bin", null, null, CancellationToken.None)).Digest);

        var output = _dir.Combine("deep", "er", "file.bin");
        await store.PlaceAsync(digest, output, CancellationToken.None).Within();

        Assert.True(File.Exists(output));
    }

    [Fact]
    public async Task Place_OfUnknownContent_LeavesNothingBehind()
    {
        var store = new ContentStore(_dir.Combine("data"));
        var output = _dir.Combine("out", "x.bin");

        await Assert.ThrowsAsync<UserFacingException>(() => store.PlaceAsync(
            ContentDigest.Parse("sha256:0000000000000000000000000000000000000000000000000000000000000001"), output, CancellationToken.None));

        Assert.False(File.Exists(output));
    }

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; posts, which would race the asserts).</summary>
    private sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
