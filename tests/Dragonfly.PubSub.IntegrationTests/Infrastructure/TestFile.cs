using System.Security.Cryptography;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>A file of seeded random bytes on disk, with its SHA-256.</summary>
public sealed record TestFile(string Path, long Size, string Sha256Hex)
{
    private const int ChunkSize = 1024 * 1024;

    public string Name => System.IO.Path.GetFileName(Path);

    /// <summary>The content id, <c>sha256:&lt;hex&gt;</c>.</summary>
    public string Digest => "sha256:" + Sha256Hex;

    /// <summary>Streams <paramref name="size"/> bytes from <c>new Random(seed)</c> to disk while hashing them.</summary>
    public static async Task<TestFile> CreateAsync(string path, long size, int seed)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        var random = new Random(seed);
        var buffer = new byte[ChunkSize];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0))
        {
            for (long written = 0; written < size;)
            {
                var n = (int)Math.Min(ChunkSize, size - written);
                random.NextBytes(buffer.AsSpan(0, n));
                hash.AppendData(buffer, 0, n);
                await stream.WriteAsync(buffer.AsMemory(0, n));
                written += n;
            }
        }
        return new TestFile(path, size, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    /// <summary>The SHA-256 (lowercase hex) of a file, streamed.</summary>
    public static async Task<string> HashAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 20);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
    }

    /// <summary>
    /// Flips the bits of <paramref name="length"/> bytes at each offset, in place (no truncation,
    /// same inode), as disk corruption would.
    /// </summary>
    public static async Task CorruptInPlaceAsync(string path, IEnumerable<long> offsets, int length = 4096)
    {
        var buffer = new byte[length];
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        foreach (var offset in offsets)
        {
            stream.Position = offset;
            var n = await stream.ReadAtLeastAsync(buffer, length, throwOnEndOfStream: true);
            for (int i = 0; i < n; i++)
            {
                buffer[i] ^= 0xFF;
            }
            stream.Position = offset;
            await stream.WriteAsync(buffer.AsMemory(0, n));
        }
        await stream.FlushAsync();
    }
}
