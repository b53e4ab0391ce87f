using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Testing;

/// <summary>
/// A small image written as an OCI image layout directory: an OCI index of linux/amd64 and
/// linux/arm64 (or a single platform's manifest), each with a config JSON and gzip-tar layers of
/// random bytes, every blob distinct per platform. Push it with <see cref="Skopeo.PushAsync"/>.
/// </summary>
public sealed class TestImage : IDisposable
{
    // Spelled out rather than taken from the product, so that a wrong constant there cannot hide here.
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciConfig = "application/vnd.oci.image.config.v1+json";
    public const string OciLayer = "application/vnd.oci.image.layer.v1.tar+gzip";

    private readonly Dictionary<ContentDigest, byte[]> _blobs = [];

    private TestImage(string directory, string tag)
    {
        Directory = directory;
        Tag = tag;
    }

    public string Directory { get; }

    public string Tag { get; }

    /// <summary>What the tag points at: the index, or the single manifest.</summary>
    public ContentDigest RootDigest { get; private set; }

    public string RootMediaType { get; private set; } = "";

    public IReadOnlyList<TestImagePlatform> Platforms { get; private set; } = [];

    /// <summary>The content of <paramref name="platform"/>, e.g. <c>linux/arm64</c>.</summary>
    public TestImagePlatform this[string platform] => Platforms.Single(p => p.Platform == platform);

    /// <summary>Config and layers of every platform.</summary>
    public IEnumerable<ContentDigest> AllBlobs => Platforms.SelectMany(p => p.Blobs);

    public byte[] Blob(ContentDigest digest) => _blobs[digest];

    /// <summary>The size in bytes of a blob (or manifest) of this image.</summary>
    public long Size(ContentDigest digest) => _blobs[digest].Length;

    /// <summary>The two-platform image (linux/amd64 + linux/arm64) behind an OCI index.</summary>
    public static TestImage MultiPlatform(string tag = "v1", int seed = 1, int layers = 2, int layerBytes = 64 * 1024) =>
        Build(tag, seed, layers, layerBytes, ["linux/amd64", "linux/arm64"], index: true);

    /// <summary>A single image manifest (no index) for one platform.</summary>
    public static TestImage SinglePlatform(string platform, string tag = "v1", int seed = 1, int layerBytes = 32 * 1024) =>
        Build(tag, seed, 1, layerBytes, [platform], index: false);

    public void Dispose() => TempDirectory.Delete(Directory);

    private static TestImage Build(string tag, int seed, int layers, int layerBytes, IReadOnlyList<string> platforms, bool index)
    {
        var directory = System.IO.Directory.CreateTempSubdirectory("dragonfly-image-").FullName;
        var image = new TestImage(directory, tag);
        var random = new Random(seed);
        List<TestImagePlatform> contents = [];
        foreach (var platform in platforms)
        {
            var (os, architecture) = (platform.Split('/')[0], platform.Split('/')[1]);
            List<(ContentDigest Digest, long Size)> layerBlobs = [];
            List<string> diffIds = [];
            for (var i = 0; i < layers; i++)
            {
                var (gzip, tar) = Layer($"data/{architecture}-{i}.bin", random, layerBytes);
                diffIds.Add(Sha256(tar).ToString());
                layerBlobs.Add((image.AddBlob(gzip), gzip.Length));
            }
            var config = Json(new Dictionary<string, object>
            {
                ["architecture"] = architecture,
                ["os"] = os,
                ["config"] = new Dictionary<string, object> { ["Env"] = new[] { $"PLATFORM={platform}", $"SEED={seed}" } },
                ["rootfs"] = new Dictionary<string, object> { ["type"] = "layers", ["diff_ids"] = diffIds },
            });
            var configDigest = image.AddBlob(config);
            var manifest = Json(new Dictionary<string, object>
            {
                ["schemaVersion"] = 2,
                ["mediaType"] = OciManifest,
                ["config"] = Descriptor(OciConfig, configDigest, config.Length),
                ["layers"] = layerBlobs.Select(l => Descriptor(OciLayer, l.Digest, l.Size)).ToArray(),
            });
            var manifestDigest = image.AddBlob(manifest);
            contents.Add(new TestImagePlatform(platform, manifestDigest, manifest, configDigest, layerBlobs.Select(l => l.Digest).ToArray()));
        }
        image.Platforms = contents;

        byte[] root;
        if (index)
        {
            root = Json(new Dictionary<string, object>
            {
                ["schemaVersion"] = 2,
                ["mediaType"] = OciIndex,
                ["manifests"] = contents.Select(c => new Dictionary<string, object>
                {
                    ["mediaType"] = OciManifest,
                    ["digest"] = c.ManifestDigest.ToString(),
                    ["size"] = c.Manifest.Length,
                    ["platform"] = new Dictionary<string, object> { ["architecture"] = c.Architecture, ["os"] = c.Os },
                }).ToArray(),
            });
            image.RootDigest = image.AddBlob(root);
            image.RootMediaType = OciIndex;
        }
        else
        {
            root = contents[0].Manifest;
            image.RootDigest = contents[0].ManifestDigest;
            image.RootMediaType = OciManifest;
        }

        File.WriteAllText(Path.Combine(directory, "oci-layout"), """{"imageLayoutVersion":"1.0.0"}""");
        File.WriteAllBytes(Path.Combine(directory, "index.json"), Json(new Dictionary<string, object>
        {
            ["schemaVersion"] = 2,
            ["manifests"] = new[]
            {
                new Dictionary<string, object>
                {
                    ["mediaType"] = image.RootMediaType,
                    ["digest"] = image.RootDigest.ToString(),
                    ["size"] = root.Length,
                    ["annotations"] = new Dictionary<string, string> { ["org.opencontainers.image.ref.name"] = tag },
                },
            },
        }));
        return image;
    }

    private ContentDigest AddBlob(byte[] bytes)
    {
        var digest = Sha256(bytes);
        var path = Path.Combine(Directory, "blobs", "sha256", digest.Hex);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
        _blobs[digest] = bytes;
        return digest;
    }

    private static (byte[] Gzip, byte[] Tar) Layer(string name, Random random, int size)
    {
        var data = new byte[size];
        random.NextBytes(data);
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(data), ModificationTime = DateTimeOffset.UnixEpoch });
        }
        using var gzip = new MemoryStream();
        using (var compressor = new GZipStream(gzip, CompressionLevel.Fastest, leaveOpen: true))
        {
            compressor.Write(tar.ToArray());
        }
        return (gzip.ToArray(), tar.ToArray());
    }

    private static Dictionary<string, object> Descriptor(string mediaType, ContentDigest digest, long size) =>
        new() { ["mediaType"] = mediaType, ["digest"] = digest.ToString(), ["size"] = size };

    private static byte[] Json(object value) => Encoding.UTF8.GetBytes(JsonSerializer.Serialize(value));

    private static ContentDigest Sha256(byte[] bytes) => ContentDigest.FromHash(SHA256.HashData(bytes));
}
