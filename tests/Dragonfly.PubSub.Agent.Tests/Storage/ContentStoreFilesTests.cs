using Dragonfly.PubSub.Agent.Tests.Support;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Transfer.Storage;

namespace Dragonfly.PubSub.Agent.Tests.Storage;

/// <summary>What the cache sees of the store: allocated bytes, hard links, and only the store's own names.</summary>
public sealed class ContentStoreFilesTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task ListFiles_ReportsContentPartialsAndLinks_AndSkipsTemporaryFiles()
    {
        var store = new ContentStore(_dir.Path);
        var complete = ContentDigest.Parse($"sha256:{1:x64}");
        var partial = ContentDigest.Parse($"sha256:{2:x64}");
        Directory.CreateDirectory(Path.GetDirectoryName(store.ContentPath(complete))!);
        Directory.CreateDirectory(Path.GetDirectoryName(store.PartialPath(partial))!);
        await File.WriteAllBytesAsync(store.ContentPath(complete), new byte[256 * 1024]);
        // A sparse partial download of 64 MiB with one 64 KiB piece written.
        using (var file = File.OpenHandle(store.PartialPath(partial), FileMode.CreateNew, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(file, 64 << 20);
            RandomAccess.Write(file, new byte[64 * 1024].AsSpan(), 0);
        }
        await File.WriteAllBytesAsync(Path.Combine(Path.GetDirectoryName(store.ContentPath(complete))!, ".import-123"), new byte[10]);

        var files = store.ListFiles().OrderBy(f => f.Digest.Hex, StringComparer.Ordinal).ToList();

        Assert.Equal(2, files.Count);
        Assert.Equal(complete, files[0].Digest);
        Assert.False(files[0].Partial);
        Assert.Equal(256 * 1024, files[0].Bytes);
        Assert.True(files[0].OwnedByAgent);
        Assert.Equal(partial, files[1].Digest);
        Assert.True(files[1].Partial);
        Assert.InRange(files[1].Bytes, 64 * 1024, 1 << 20);

        // An output placed by hard link shares the bytes: the store's file is no longer the agent's alone.
        Assert.True(await store.PlaceAsync(complete, _dir.Combine("out", "app.bin"), CancellationToken.None));
        var linked = store.ListFiles().Single(f => f.Digest == complete);
        Assert.Equal(2, linked.Links);
        Assert.False(linked.OwnedByAgent);

        store.Remove(complete);
        Assert.DoesNotContain(store.ListFiles(), f => f.Digest == complete);
        Assert.True(File.Exists(_dir.Combine("out", "app.bin")), "removing the store's name must leave the output");
    }

    [Fact]
    public void IsDiskFull_RecognisesEnospcAndWrappedErrors()
    {
        Assert.True(DiskFull.Is(new IOException("No space left on device : '/x'", 28)));
        Assert.True(DiskFull.Is(new InvalidOperationException("wrapped", new IOException("quota", 122))));
        Assert.False(DiskFull.Is(new IOException("Permission denied", 13)));
        Assert.False(DiskFull.Is(null));
    }
}
