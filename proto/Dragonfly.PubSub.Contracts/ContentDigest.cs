using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// A content id: <c>sha256:&lt;64 lowercase hex&gt;</c> of a whole artifact. Parsing is strict so a
/// digest can be used as a file name and a LiteDB key without further escaping.
/// </summary>
public readonly record struct ContentDigest
{
    public const string Prefix = "sha256:";

    private ContentDigest(string hex) => Hex = hex;

    /// <summary>64 lowercase hex characters.</summary>
    public string Hex { get; }

    public static ContentDigest FromHash(ReadOnlySpan<byte> sha256)
    {
        if (sha256.Length != SHA256.HashSizeInBytes)
        {
            throw new ArgumentException($"a SHA-256 hash has {SHA256.HashSizeInBytes} bytes, got {sha256.Length}", nameof(sha256));
        }
        return new ContentDigest(Convert.ToHexStringLower(sha256));
    }

    public static bool TryParse(string? text, [NotNullWhen(true)] out ContentDigest? digest)
    {
        digest = null;
        if (text is null || !text.StartsWith(Prefix, StringComparison.Ordinal) || text.Length != Prefix.Length + 64)
        {
            return false;
        }
        var hex = text.AsSpan(Prefix.Length);
        foreach (var c in hex)
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }
        digest = new ContentDigest(hex.ToString());
        return true;
    }

    /// <summary>Parses or throws <see cref="FormatException"/> with a message a user can act on.</summary>
    public static ContentDigest Parse(string text) =>
        TryParse(text, out var digest)
            ? digest.Value
            : throw new FormatException($"'{text}' is not a content id; expected sha256: followed by 64 lowercase hex digits");

    public byte[] ToBytes() => Convert.FromHexString(Hex);

    public override string ToString() => Prefix + Hex;
}
