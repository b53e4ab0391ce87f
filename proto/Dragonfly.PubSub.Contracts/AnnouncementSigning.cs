using System.Buffers.Binary;
using System.Text;

namespace Dragonfly.PubSub.Contracts;

/// <summary>
/// The exact bytes a broker signs for an announcement (issue 11, signed announcements). Not the JSON:
/// JSON may be re-encoded on the way (escapes, property order, a field a newer broker adds), so the
/// signature covers a fixed binary form of the fields an agent acts on, built the same way on both ends.
/// </summary>
/// <remarks>
/// Layout: the ASCII domain tag <c>dragonfly-announcement-v1</c> and a 0 byte (so these bytes can never be
/// mistaken for anything else the same key might sign), then each field in this order — version, sequence,
/// digest, name, topic, size, piece size, piece count, url task, content digest, publisher, created-at (unix
/// ms), labels (count, then key/value pairs by ordinal key order), blobs (count, then each in order).
/// Integers are 8-byte big-endian, strings a 4-byte big-endian byte count and their UTF-8, a flag one byte.
/// A field added to <see cref="Announcement"/> that agents act on needs a new tag (v2).
/// </remarks>
public static class AnnouncementSigning
{
    public const string DomainTag = "dragonfly-announcement-v1";

    public static byte[] BytesToSign(Announcement announcement)
    {
        ArgumentNullException.ThrowIfNull(announcement);
        using var stream = new MemoryStream(512);
        stream.Write(Encoding.ASCII.GetBytes(DomainTag));
        stream.WriteByte(0);
        WriteInt(stream, announcement.Version);
        WriteInt(stream, announcement.Sequence);
        WriteString(stream, announcement.Digest);
        WriteString(stream, announcement.Name);
        WriteString(stream, announcement.Topic);
        WriteInt(stream, announcement.Size);
        WriteInt(stream, announcement.PieceSize);
        WriteInt(stream, announcement.PieceCount);
        stream.WriteByte(announcement.UrlTask ? (byte)1 : (byte)0);
        WriteString(stream, announcement.ContentDigest ?? "");
        WriteString(stream, announcement.Publisher);
        WriteInt(stream, announcement.CreatedAt.ToUnixTimeMilliseconds());
        WriteInt(stream, announcement.Labels.Count);
        foreach (var (key, value) in announcement.Labels.OrderBy(l => l.Key, StringComparer.Ordinal))
        {
            WriteString(stream, key);
            WriteString(stream, value);
        }
        WriteInt(stream, announcement.Blobs.Count);
        foreach (var blob in announcement.Blobs)
        {
            WriteString(stream, blob);
        }
        return stream.ToArray();
    }

    private static void WriteInt(Stream stream, long value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(bytes, value);
        stream.Write(bytes);
    }

    private static void WriteString(Stream stream, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
        stream.Write(length);
        stream.Write(bytes);
    }
}
