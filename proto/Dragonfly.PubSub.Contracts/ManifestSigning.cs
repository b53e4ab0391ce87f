using System.Buffers.Binary;
using System.Text;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// The exact bytes a broker signs for a content task's manifest (issue 11, signed manifests): the fields that
/// decide which bytes an agent lands — content id, size, piece size and every piece digest. Name, topic,
/// labels and publisher are left out on purpose: the same content published again under another name or topic
/// keeps its one stored manifest, and where it goes comes from the signed announcement.
/// </summary>
/// <remarks>
/// Layout: the ASCII domain tag <c>dragonfly-manifest-v1</c> and a 0 byte (never mistaken for an announcement,
/// which the same key signs), then the digest (4-byte big-endian byte count and UTF-8), size and piece size
/// (8-byte big-endian), the piece count (8-byte big-endian) and the 32-byte piece digests in order.
/// </remarks>
public static class ManifestSigning
{
    public const string DomainTag = "dragonfly-manifest-v1";

    public static byte[] BytesToSign(Manifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var digest = Encoding.UTF8.GetBytes(manifest.Digest);
        var length = DomainTag.Length + 1 + 4 + digest.Length + 3 * 8 + manifest.PieceDigests.Sum(d => 4 + d.Length);
        var bytes = new byte[length];
        var span = bytes.AsSpan();
        span = span[Encoding.ASCII.GetBytes(DomainTag, span)..];
        span[0] = 0;
        span = span[1..];
        span = WriteBytes(span, digest);
        span = WriteInt(span, manifest.Size);
        span = WriteInt(span, manifest.PieceSize);
        span = WriteInt(span, manifest.PieceDigests.Count);
        foreach (var piece in manifest.PieceDigests)
        {
            // Length-prefixed too: a piece digest of the wrong length can never shift the ones after it.
            span = WriteBytes(span, piece.Span);
        }
        return bytes;
    }

    private static Span<byte> WriteInt(Span<byte> span, long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(span, value);
        return span[8..];
    }

    private static Span<byte> WriteBytes(Span<byte> span, ReadOnlySpan<byte> value)
    {
        BinaryPrimitives.WriteInt32BigEndian(span, value.Length);
        value.CopyTo(span[4..]);
        return span[(4 + value.Length)..];
    }
}
