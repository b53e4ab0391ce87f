using System.Collections.Concurrent;
using System.Security.Cryptography;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Bench.Common.Measurement;

/// <summary>Writes the seeded test file and checks copies against its SHA-256.</summary>
public static class FileDigest
{
    /// <summary>
    /// Seeded random bytes, so every run moves the same incompressible content; world-readable,
    /// because nginx's worker runs as an unprivileged user.
    /// </summary>
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
        WorldReadable.File644(path);
        return ContentDigest.FromHash(sha.GetHashAndReset());
    }

    public static async Task<ContentDigest> HashAsync(string path, CancellationToken cancel)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 20, FileOptions.SequentialScan);
        return ContentDigest.FromHash(await SHA256.HashDataAsync(stream, cancel));
    }

    /// <summary>True when every file exists and hashes to <paramref name="expected"/>; two at a time (2 cores).</summary>
    public static async Task<(bool Verified, IReadOnlyList<string> Problems)> VerifyAllAsync(IEnumerable<string> paths, ContentDigest expected, CancellationToken cancel)
    {
        var problems = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(paths, new ParallelOptions { MaxDegreeOfParallelism = 2, CancellationToken = cancel }, async (path, ct) =>
        {
            if (!File.Exists(path))
            {
                problems.Add($"{path} is missing");
                return;
            }
            var actual = await HashAsync(path, ct);
            if (actual != expected)
            {
                problems.Add($"{path} has digest {actual}, expected {expected}");
            }
        });
        return (problems.IsEmpty, [.. problems]);
    }
}
