using System.Buffers.Binary;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>The 32 raw bytes of a content id as a dictionary key, so a wire request needs no string.</summary>
internal readonly record struct DigestKey(ulong A, ulong B, ulong C, ulong D)
{
    public const int Size = 32;

    public static DigestKey FromBytes(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt64BigEndian(bytes),
        BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]),
        BinaryPrimitives.ReadUInt64BigEndian(bytes[16..]),
        BinaryPrimitives.ReadUInt64BigEndian(bytes[24..]));

    public static DigestKey From(ContentDigest digest)
    {
        Span<byte> bytes = stackalloc byte[Size];
        Convert.FromHexString(digest.Hex, bytes, out _, out _);
        return FromBytes(bytes);
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, A);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], B);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], C);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], D);
    }
}
