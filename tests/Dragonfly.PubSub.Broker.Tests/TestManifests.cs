using System.Security.Cryptography;
using System.Text;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Google.Protobuf;

namespace Dragonfly.PubSub.Broker.Tests;

/// <summary>Small valid manifests without real content.</summary>
internal static class TestManifests
{
    public const int PieceSize = PieceLayout.MinPieceSize;

    public static Manifest Create(string seed, int pieceCount, string topic = "releases/app", string publisher = "pub")
    {
        var manifest = new Manifest
        {
            Digest = ContentDigest.FromHash(SHA256.HashData(Encoding.UTF8.GetBytes(seed))).ToString(),
            Name = seed + ".bin",
            Size = (long)pieceCount * PieceSize,
            PieceSize = PieceSize,
            Topic = topic,
            Publisher = publisher,
            CreatedAtUnixMs = 1_700_000_000_000,
        };
        for (var i = 0; i < pieceCount; i++)
        {
            manifest.PieceDigests.Add(ByteString.CopyFrom(SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}/{i}"))));
        }
        return manifest;
    }

    public static PieceBitmap Bitmap(int pieceCount, params int[] held)
    {
        var bitmap = new PieceBitmap(pieceCount);
        foreach (var index in held)
        {
            bitmap.Set(index);
        }
        return bitmap;
    }
}
