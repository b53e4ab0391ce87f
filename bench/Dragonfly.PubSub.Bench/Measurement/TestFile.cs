using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Bench.Measurement;

/// <summary>Files of seeded random bytes, so every run moves the same incompressible content.</summary>
internal static class TestFile
{
    public static async Task<ContentDigest> WriteAsync(string path, long size, int seed, CancellationToken cancel)
    {
        var random = new Random(seed);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[4 << 20];
        await using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1, FileOptions.Asynchronous))
        {
            for (long written = 0; written < size; written += buffer.Length)
            {
                var chunk = buffer.AsMemory(0, (int)Math.Min(buffer.Length, size - written));
                random.NextBytes(chunk.Span);
                sha.AppendData(chunk.Span);
                await stream.WriteAsync(chunk, cancel);
            }
        }
        // nginx's worker runs as an unprivileged user: the file must be world-readable.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        }
        return ContentDigest.FromHash(sha.GetHashAndReset());
    }

    public static async Task<ContentDigest> HashAsync(string path, CancellationToken cancel)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        return ContentDigest.FromHash(await SHA256.HashDataAsync(stream, cancel));
    }
}
