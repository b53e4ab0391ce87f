namespace Dragonfly.PubSub.Origins.Tests.Infrastructure;

internal static class TestData
{
    /// <summary>Deterministic pseudo-random bytes, the same as the test servers' files of that seed.</summary>
    public static byte[] Bytes(int length, int seed) => SeededBytes.Create(length, seed);

    public static string Sha256(ReadOnlySpan<byte> bytes) => SeededBytes.Sha256Hex(bytes);

    /// <summary>
    /// Reads <paramref name="size"/> bytes in pieces of <paramref name="pieceSize"/>, up to
    /// <paramref name="inFlight"/> at once and in reverse order, and puts them back together.
    /// </summary>
    public static async Task<byte[]> ReassembleAsync(OriginClient client, Uri url, long size, int pieceSize, int inFlight,
        OriginRequestOptions? options = null)
    {
        var result = new byte[size];
        var pieces = Enumerable.Range(0, (int)((size + pieceSize - 1) / pieceSize)).Reverse();
        await Parallel.ForEachAsync(pieces, new ParallelOptions { MaxDegreeOfParallelism = inFlight }, async (index, ct) =>
        {
            var offset = (long)index * pieceSize;
            var length = (int)Math.Min(pieceSize, size - offset);
            var read = await client.ReadRangeAsync(url, offset, result.AsMemory((int)offset, length), options, ct);
            Assert.Equal(length, read);
        });
        return result;
    }

    public static async Task<byte[]> ReadAllAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }
}
