using System.Security.Cryptography;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;

namespace Dragonfly.PubSub.Agent.Tests.Support;

/// <summary>A file of random bytes and its manifest, cut into small pieces so tests stay fast.</summary>
public sealed class TestArtifact
{
    public const int SmallPiece = PieceLayout.MinPieceSize;

    private TestArtifact(string path, byte[] bytes, Manifest manifest)
    {
        Path = path;
        Bytes = bytes;
        Manifest = manifest;
    }

    public string Path { get; }
    public byte[] Bytes { get; }
    public Manifest Manifest { get; }
    public ContentDigest Digest => ContentDigest.Parse(Manifest.Digest);
    public PieceLayout Layout => Manifest.Layout();

    public static async Task<TestArtifact> CreateAsync(string directory, long size, int pieceSize = SmallPiece, int seed = 1)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        var path = System.IO.Path.Combine(directory, $"artifact-{seed}-{size}.bin");
        await File.WriteAllBytesAsync(path, bytes);
        using var stream = new MemoryStream(bytes, writable: false);
        var manifest = await Manifests.BuildAsync(stream, size, "artifact.bin", pieceSize, null, null, CancellationToken.None);
        manifest.Topic = "tests/artifact";
        manifest.Publisher = "publisher";
        return new TestArtifact(path, bytes, manifest);
    }

    /// <summary>A copy of the file with one byte flipped in every piece: right size, wrong content.</summary>
    public string WriteCorruptCopy(string directory)
    {
        var bad = (byte[])Bytes.Clone();
        for (var i = 0; i < Layout.PieceCount; i++)
        {
            bad[Layout.OffsetOf(i) + Layout.LengthOf(i) / 2] ^= 0x5A;
        }
        var path = System.IO.Path.Combine(directory, "corrupt-" + System.IO.Path.GetFileName(Path));
        File.WriteAllBytes(path, bad);
        return path;
    }

    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return ContentDigest.FromHash(SHA256.HashData(stream)).ToString();
    }
}
