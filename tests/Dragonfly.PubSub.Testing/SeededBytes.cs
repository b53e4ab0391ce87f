using System.Security.Cryptography;

namespace Dragonfly.PubSub.Testing;

public static class SeededBytes
{
    /// <summary>Deterministic pseudo-random bytes (<c>new Random(seed)</c>), so a failure can be reproduced.</summary>
    public static byte[] Create(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>The SHA-256 of <paramref name="bytes"/> as lowercase hex.</summary>
    public static string Sha256Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
